import fs from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { RainopsError } from '../../src/core/errors.js';
import { openDatabase } from '../../src/registry/db.js';
import { LATEST_SCHEMA_VERSION, openRegistry } from '../../src/registry/index.js';
import { migrate, schemaVersion } from '../../src/registry/migrate.js';
import { MIGRATIONS } from '../../src/registry/migrations/index.js';
import { canSpawnTs, open, runInProcesses, tempDbPath } from './helpers.js';

const TABLES = [
  'experiments',
  'runs',
  'params',
  'metrics',
  'tags',
  'artifacts',
  'datasets',
  'run_datasets',
  'registered_models',
  'model_versions',
  'aliases',
  'alias_history',
  'locks',
];

function tablesOf(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map(
      (r) => r.name,
    );
  } finally {
    db.close();
  }
}

describe('migrations', () => {
  it('are numbered 1, 2, 3... without gaps', async () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('bring a file that does not exist yet to the latest version with every table', async () => {
    const file = tempDbPath();
    expect(fs.existsSync(file)).toBe(false);
    const registry = await open(file);
    expect(await registry.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    await registry.close();
    expect(tablesOf(file)).toEqual(expect.arrayContaining(TABLES));
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('are not run again when the file is reopened, and data survives', async () => {
    const file = tempDbPath();
    const first = await open(file);
    await first.getOrCreateExperiment('kept');
    await first.close();

    const db = openDatabase(file);
    expect(migrate(db)).toEqual([]);
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
    db.close();

    const again = await open(file);
    expect((await again.listExperiments()).map((e) => e.name)).toEqual(['kept']);
  });

  it('set up each connection with WAL, a 10 s busy timeout and foreign keys', async () => {
    const db = openDatabase(tempDbPath());
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('busy_timeout', { simple: true })).toBe(10000);
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    } finally {
      db.close();
    }
  });

  it('apply only the pending steps, in order', async () => {
    const db = openDatabase(tempDbPath());
    try {
      expect(migrate(db).map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
      const next = {
        version: LATEST_SCHEMA_VERSION + 1,
        name: 'extra',
        sql: 'CREATE TABLE extra (a INTEGER);',
        postgres: '',
      };
      expect(migrate(db, [...MIGRATIONS, next]).map((m) => m.name)).toEqual(['extra']);
      expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION + 1);
    } finally {
      db.close();
    }
  });

  it('roll a failing step back entirely, leaving the version where it was', async () => {
    const db = openDatabase(tempDbPath());
    try {
      migrate(db);
      const broken = {
        version: LATEST_SCHEMA_VERSION + 1,
        name: 'broken',
        sql: 'CREATE TABLE half (a INTEGER); INSERT INTO no_such_table VALUES (1);',
        postgres: '',
      };
      expect(() => migrate(db, [...MIGRATIONS, broken])).toThrow(/no_such_table/);
      expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
      expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half'").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('refuse a database written by a newer rainops', async () => {
    const file = tempDbPath();
    await (await open(file)).close();
    const db = new Database(file);
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 5}`);
    db.close();
    let error: unknown;
    try {
      await openRegistry(file);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RainopsError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `schema version ${LATEST_SCHEMA_VERSION + 5} but this rainops only knows up to ${LATEST_SCHEMA_VERSION}; upgrade rainops`,
      ),
    );
  });

  it.skipIf(!canSpawnTs)('let several processes create and migrate the same new file at once', async () => {
    const file = tempDbPath();
    const body = `
      const [file, startAt, name] = argv;
      waitUntil(Number(startAt));
      const registry = await openRegistry(file);
      await registry.getOrCreateExperiment('shared');
      await registry.getOrCreateExperiment(name);
      process.stdout.write(String(await registry.schemaVersion()));
      await registry.close();`;
    const startAt = String(Date.now() + 3000);
    const versions = await runInProcesses(body, (i) => [file, startAt, `p${i}`], 4);
    expect(versions).toEqual(Array(4).fill(String(LATEST_SCHEMA_VERSION)));
    expect((await (await open(file)).listExperiments()).map((e) => e.name)).toEqual(['p0', 'p1', 'p2', 'p3', 'shared']);
  });
});
