// The error classes live in src/errors.ts so the registry (the layer below core) can throw them too.
export * from '../errors.js';
