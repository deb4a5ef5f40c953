import { postgres as initPg } from './001_init.pg.js';
import { sql as init } from './001_init.js';
import { postgres as leasesPg } from './002_leases.pg.js';
import { present as leasesPresent, sql as leases } from './002_leases.js';
import { postgres as registryIdPg } from './003_registry_id.pg.js';
import { sql as registryId } from './003_registry_id.js';
import { postgres as studiesPg } from './004_studies.pg.js';
import { sql as studies } from './004_studies.js';
import type { Db } from '../db.js';

/**
 * One schema step; `version` is the `PRAGMA user_version` (SQLite) or the latest `rainops_schema` row
 * (PostgreSQL) the database has once it is applied. Each step is written once per database.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** The step on SQLite. */
  readonly sql: string;
  /** The same step on PostgreSQL. */
  readonly postgres: string;
  /**
   * Whether the step's changes are in the database. A database that went past this number without them (a
   * placeholder once stood in for the step) gets the step applied late, on its next writing open.
   */
  readonly present?: (db: Db) => boolean;
}

/** Every migration, oldest first; versions are 1, 2, 3... without gaps. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'init', sql: init, postgres: initPg },
  { version: 2, name: 'leases', sql: leases, postgres: leasesPg, present: leasesPresent },
  { version: 3, name: 'registry_id', sql: registryId, postgres: registryIdPg },
  { version: 4, name: 'studies', sql: studies, postgres: studiesPg },
];

export const LATEST_SCHEMA_VERSION: number = MIGRATIONS.length;
