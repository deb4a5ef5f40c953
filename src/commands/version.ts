import { createRequire } from 'node:module';

/** The package's version: package.json is the one place it is written (src/commands and dist/commands both sit two folders below it). */
export const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
