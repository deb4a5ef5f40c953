import fs from 'node:fs';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import pg from 'pg';
import { RainopsError } from '../errors.js';
import { openDatabase, openReadOnlyDatabase } from './db.js';
import type { Db } from './db.js';
import { checkCurrent, migrate, schemaVersion } from './migrate.js';
import { LATEST_SCHEMA_VERSION } from './migrations/index.js';
import type { Migration } from './migrations/index.js';
import { checkKnownPg, migratePg, pgSchemaVersion } from './pg-migrate.js';
import type { RegistryTables } from './schema.js';
import { redactUrl } from './url.js';
import type { BackendName, RegistryLocation } from './url.js';

export type Access = 'read-write' | 'read-only' | 'snapshot';

/**
 * The few real differences between the two databases; every query is written once, above this seam.
 */
export interface Connection {
  readonly backend: BackendName;
  readonly location: RegistryLocation;
  /** How people see it: the file path, or the URL without its password. */
  readonly name: string;
  readonly db: Kysely<RegistryTables>;
  readonly access: Access;
  /** Opens a write transaction: on SQLite BEGIN IMMEDIATE takes the write lock at once. */
  readonly beginWrite: string;
  /** Opens a read transaction that sees one consistent state. */
  readonly beginRead: string;
  /** Run first in a write transaction; on PostgreSQL it serializes writers as SQLite's write lock does. */
  readonly writeLock: RawBuilder<unknown> | null;
  /** Appended to a claim's SELECT: on PostgreSQL the row is locked, and rows another claim holds are passed over. */
  readonly claimRows: string;
  /** The column that orders data sets registered in the same millisecond. */
  readonly insertOrder: 'rowid' | 'seq';
  /** Whether a statement failed because a row it wrote refers to one that does not exist (a foreign key). */
  isMissingReference(err: unknown): boolean;
  /** On PostgreSQL, tells listeners (LISTEN rainops_alias) that an alias moved; sent when its transaction commits. */
  readonly notifyAlias: ((payload: string) => RawBuilder<unknown>) | null;
  /** The steps applied when it was opened. */
  readonly applied: readonly Migration[];
  schemaVersion(): Promise<number>;
  checkpoint(): Promise<void>;
  isOpen(): boolean;
  close(): Promise<void>;
}

/** The channel alias moves are announced on. */
export const ALIAS_CHANNEL = 'rainops_alias';

const errorCode = (err: unknown): unknown => (err as { code?: unknown } | null)?.code;

/** Key of the transaction-level advisory lock every PostgreSQL write transaction takes. */
const WRITE_LOCK = 7_406_119_002;

function sqliteConnection(location: { backend: 'sqlite'; file: string }, readonly: boolean): Connection {
  const { file } = location;
  const { db, access, applied } = openSqliteFile(file, readonly);
  let open = true;
  return {
    backend: 'sqlite',
    location,
    name: file,
    db: new Kysely<RegistryTables>({ dialect: new SqliteDialect({ database: db }) }),
    access,
    beginWrite: 'BEGIN IMMEDIATE',
    beginRead: 'BEGIN',
    writeLock: null,
    claimRows: '',
    insertOrder: 'rowid',
    isMissingReference: (err) => errorCode(err) === 'SQLITE_CONSTRAINT_FOREIGNKEY',
    notifyAlias: null,
    applied,
    schemaVersion: async () => schemaVersion(db),
    checkpoint: async () => {
      db.pragma('wal_checkpoint(TRUNCATE)');
    },
    isOpen: () => open && db.open,
    close: async () => {
      open = false;
      if (db.open) db.close();
    },
  };
}

function openSqliteFile(file: string, readonly: boolean): { db: Db; access: Access; applied: Migration[] } {
  // a missing or empty file is no registry yet: the writable open creates it (or says what is wrong)
  if (readonly && file !== ':memory:' && (fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0) > 0) {
    const { db, snapshot } = openReadOnlyDatabase(file);
    try {
      checkCurrent(db, file);
    } catch (err) {
      db.close();
      throw err;
    }
    return { db, access: snapshot ? 'snapshot' : 'read-only', applied: [] };
  }
  const db = openDatabase(file);
  try {
    return { db, access: 'read-write', applied: migrate(db) };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** bigint (count(*), durations, sizes) as a JS number: every such value rainops stores is below 2^53. */
const parseInt8 = (text: string) => Number(text);

const getTypeParser = ((oid: number, format?: 'text' | 'binary') =>
  oid === pg.types.builtins.INT8 ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser;

/** A pool of connections to one PostgreSQL database; the PG* variables fill in what the URL leaves out. */
export function createPgPool(url: string, max = 4): pg.Pool {
  // idle connections never keep a finished command alive
  const pool = new pg.Pool({
    connectionString: url,
    max,
    application_name: 'rainops',
    allowExitOnIdle: true,
    types: { getTypeParser },
  });
  // an idle connection the server dropped must not crash the process; the next query opens a new one
  pool.on('error', () => {});
  return pool;
}

/** One connection of its own (LISTEN holds it); keep-alive so that a vanished server is noticed. */
export function createPgClient(url: string): pg.Client {
  return new pg.Client({
    connectionString: url,
    application_name: 'rainops',
    keepAlive: true,
    types: { getTypeParser },
  });
}

/** A driver error with the password taken out, in a sentence that says what to check. */
export function unreachable(url: string, err: unknown): RainopsError {
  const password = safePassword(url);
  let message = err instanceof Error ? err.message : String(err);
  if (password) message = message.split(password).join('***');
  return new RainopsError(
    `cannot use the registry database ${redactUrl(url)}: ${message}; check that PostgreSQL is running and that the URL (or PGHOST, PGUSER, PGPASSWORD, PGDATABASE) is right`,
  );
}

function safePassword(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

async function pgConnection(location: { backend: 'postgresql'; url: string }, readonly: boolean): Promise<Connection> {
  const name = redactUrl(location.url);
  const pool = createPgPool(location.url);
  const db = new Kysely<RegistryTables>({ dialect: new PostgresDialect({ pool }) });
  let open = true;
  let applied: Migration[] = [];
  try {
    if (readonly) {
      const version = await pgSchemaVersion(db);
      checkKnownPg(version, name);
      if (version < LATEST_SCHEMA_VERSION) {
        throw new RainopsError(
          `registry ${name} has schema version ${version} and this rainops needs ${LATEST_SCHEMA_VERSION}; a read-only command cannot upgrade it, so run 'rainops registry migrate' (or a command that writes) once, then try again`,
        );
      }
    } else {
      applied = await migratePg(db, name);
    }
  } catch (err) {
    await db.destroy();
    if (err instanceof RainopsError) throw err;
    throw unreachable(location.url, err);
  }
  return {
    backend: 'postgresql',
    location,
    name,
    db,
    access: readonly ? 'read-only' : 'read-write',
    beginWrite: 'BEGIN',
    beginRead: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    writeLock: sql`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`,
    claimRows: ' FOR UPDATE SKIP LOCKED',
    insertOrder: 'seq',
    // foreign_key_violation
    isMissingReference: (err) => errorCode(err) === '23503',
    notifyAlias: (payload) => sql`SELECT pg_notify(${ALIAS_CHANNEL}, ${payload})`,
    applied,
    schemaVersion: () => pgSchemaVersion(db),
    checkpoint: async () => {},
    isOpen: () => open,
    close: async () => {
      if (!open) return;
      open = false;
      await db.destroy();
    },
  };
}

export async function openConnection(location: RegistryLocation, readonly: boolean): Promise<Connection> {
  return location.backend === 'sqlite' ? sqliteConnection(location, readonly) : pgConnection(location, readonly);
}
