import { UsageError } from '../errors.js';

/** Rejects keys that could escape the store root or that no backend can hold. */
export function checkKey(key: string): string {
  if (key === '' || key.startsWith('/') || key.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new UsageError(`store: invalid key "${key}"; keys are relative paths like datasets/<id>/manifest.json`);
  }
  return key;
}

export function joinKey(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}
