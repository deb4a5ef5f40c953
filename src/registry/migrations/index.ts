import { sql as init } from './001_init.js';
import { sql as registryId } from './003_registry_id.js';

/** One schema step; `version` is the `PRAGMA user_version` the database has once it is applied. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Every migration, oldest first; versions are 1, 2, 3... without gaps. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'init', sql: init },
  // Number 2 is the lock leases' migration, landing on its own; this empty step holds its place until then.
  { version: 2, name: 'reserved', sql: '' },
  { version: 3, name: 'registry_id', sql: registryId },
];

export const LATEST_SCHEMA_VERSION: number = MIGRATIONS.length;
