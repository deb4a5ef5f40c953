import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { RainopsError } from '../errors.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations/index.js';
import type { Migration } from './migrations/index.js';
import type { RegistryTables } from './schema.js';

/** Held for the whole of a migration: several processes opening one new database at once apply each step once. */
const MIGRATION_LOCK = 7_406_119_001;

type Db = Kysely<RegistryTables>;

/** The newest applied step; 0 for a database rainops has never used. */
export async function pgSchemaVersion(db: Db): Promise<number> {
  const exists = await sql<{ t: string | null }>`SELECT to_regclass('rainops_schema')::text AS t`.execute(db);
  if (!exists.rows[0]?.t) return 0;
  const r = await sql<{ v: number | null }>`SELECT max(version) AS v FROM rainops_schema`.execute(db);
  return r.rows[0]?.v ?? 0;
}

export function checkKnownPg(version: number, name: string): void {
  if (version > LATEST_SCHEMA_VERSION) {
    throw new RainopsError(
      `registry ${name} has schema version ${version} but this rainops only knows up to ${LATEST_SCHEMA_VERSION}; upgrade rainops to use it`,
    );
  }
}

/** Brings the database to the latest schema under a session advisory lock; returns the steps it applied. */
export async function migratePg(
  db: Db,
  name: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<Migration[]> {
  const before = await pgSchemaVersion(db);
  checkKnownPg(before, name);
  // a current database needs no lock, so opening it never waits for another process's migration
  if (before >= (migrations.at(-1)?.version ?? 0)) return [];
  return db.connection().execute(async (c) => {
    await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK})`.execute(c);
    try {
      await sql`CREATE TABLE IF NOT EXISTS rainops_schema (
        version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)`.execute(c);
      const applied: Migration[] = [];
      // read again under the lock: another process may have just migrated
      let current = await pgSchemaVersion(c);
      checkKnownPg(current, name);
      for (const m of migrations) {
        if (current >= m.version) continue;
        await sql`BEGIN`.execute(c);
        try {
          await sql.raw(m.postgres).execute(c);
          await sql`INSERT INTO rainops_schema (version, name, applied_at)
            VALUES (${m.version}, ${m.name}, ${new Date().toISOString()})`.execute(c);
          await sql`COMMIT`.execute(c);
        } catch (err) {
          await sql`ROLLBACK`.execute(c);
          throw err;
        }
        current = m.version;
        applied.push(m);
      }
      return applied;
    } finally {
      await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`.execute(c);
    }
  });
}
