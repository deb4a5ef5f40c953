import { RainopsError } from '../errors.js';
import type { Db } from './db.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations/index.js';
import type { Migration } from './migrations/index.js';

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function checkKnown(db: Db, version: number, file: string = db.name): void {
  if (version > LATEST_SCHEMA_VERSION) {
    throw new RainopsError(
      `registry ${file} has schema version ${version} but this rainops only knows up to ${LATEST_SCHEMA_VERSION}; upgrade rainops to use it`,
    );
  }
}

/** Brings the database to the latest schema; returns the migrations it applied. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): Migration[] {
  checkKnown(db, schemaVersion(db));
  const applied: Migration[] = [];
  for (const migration of migrations) {
    // an applied step needs no write lock, so opening a current registry never waits for a writer
    if (schemaVersion(db) >= migration.version) continue;
    // the version is read again under the write lock: another process may have just migrated
    const ran = db
      .transaction(() => {
        const current = schemaVersion(db);
        checkKnown(db, current);
        if (current >= migration.version) return false;
        if (current !== migration.version - 1) {
          throw new RainopsError(
            `registry ${db.name} is at schema version ${current} and migration ${migration.version} cannot follow it; restore the file from a backup`,
          );
        }
        db.exec(migration.sql);
        db.pragma(`user_version = ${migration.version}`);
        return true;
      })
      .immediate();
    if (ran) applied.push(migration);
  }
  for (const migration of missing(db, migrations)) {
    // checked again under the write lock: another process may have just applied it
    const ran = db
      .transaction(() => {
        if (migration.present!(db)) return false;
        db.exec(migration.sql);
        return true;
      })
      .immediate();
    if (ran) applied.push(migration);
  }
  return applied;
}

/** Steps the database's version says it has but whose changes it lacks (it ran a placeholder for them). */
function missing(db: Db, migrations: readonly Migration[]): Migration[] {
  const version = schemaVersion(db);
  return migrations.filter((m) => m.version <= version && m.present !== undefined && !m.present(db));
}

/** A read-only connection cannot migrate: a registry behind this rainops needs one writing command first. */
export function checkCurrent(db: Db, file: string): void {
  const version = schemaVersion(db);
  checkKnown(db, version, file);
  const late = missing(db, MIGRATIONS)[0];
  if (version >= LATEST_SCHEMA_VERSION && late === undefined) return;
  const behind = late
    ? `lacks schema step ${late.version} (${late.name})`
    : `has schema version ${version} and this rainops needs ${LATEST_SCHEMA_VERSION}`;
  throw new RainopsError(
    `registry ${file} ${behind}; a read-only command cannot upgrade it, so run a command that writes (e.g. 'rainops etl') once, then try again`,
  );
}
