import { sql as init } from './001_init.js';
import { sql as leases } from './002_leases.js';

/** One schema step; `version` is the `PRAGMA user_version` the database has once it is applied. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Every migration, oldest first; versions are 1, 2, 3... without gaps. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'init', sql: init },
  { version: 2, name: 'leases', sql: leases },
];

export const LATEST_SCHEMA_VERSION: number = MIGRATIONS.length;
