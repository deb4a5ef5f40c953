import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { tempDbPath } from './helpers.js';

/**
 * The registry's conformance suite runs every test against each backend: a temp SQLite file and a real
 * PostgreSQL database (RAINOPS_TEST_PG_URL; one fresh database per test file, one fresh schema per registry).
 */
export interface Backend {
  readonly name: 'sqlite' | 'postgresql';
  /** A location for a new, empty registry. */
  fresh(): Promise<string>;
  /** Runs SQL (with ? placeholders) directly against the registry at `target`, as another tool would. */
  exec(target: string, text: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
}

const PG_URL = process.env.RAINOPS_TEST_PG_URL;
if (!PG_URL && process.env.CI === 'true') {
  throw new Error('RAINOPS_TEST_PG_URL is not set: in CI the registry conformance suite must run against PostgreSQL');
}
let warned = false;

const sqlite: Backend = {
  name: 'sqlite',
  fresh: async () => tempDbPath(),
  exec: async (target, text, params = []) => {
    const db = new Database(target);
    try {
      const stmt = db.prepare(text);
      if (stmt.reader) return stmt.all(...params) as Array<Record<string, unknown>>;
      stmt.run(...params);
      return [];
    } finally {
      db.close();
    }
  },
};

/** `?` placeholders as PostgreSQL's $1, $2... */
function numbered(text: string): string {
  let i = 0;
  return text.replace(/\?/g, () => `$${++i}`);
}

function postgres(adminUrl: string): Backend {
  const database = `rainops_test_${randomBytes(6).toString('hex')}`;
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${database}`;
  const withClient = async <T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  beforeAll(() => withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${database}`)));
  afterAll(() => withClient(adminUrl, (c) => dropDatabase(c, database)));
  return {
    name: 'postgresql',
    fresh: async () => {
      const schema = `r_${randomBytes(6).toString('hex')}`;
      await withClient(dbUrl.href, (c) => c.query(`CREATE SCHEMA ${schema}`));
      const url = new URL(dbUrl.href);
      url.searchParams.set('options', `-c search_path=${schema}`);
      return url.href;
    },
    exec: (target, text, params = []) => withClient(target, async (c) => (await c.query(numbered(text), params)).rows),
  };
}

/**
 * DROP DATABASE ... WITH (FORCE) cannot end an autovacuum worker for a role without pg_signal_backend (42501);
 * the worker leaves soon, so the drop is tried again until it is gone, for up to 30 s.
 */
async function dropDatabase(c: pg.Client, database: string): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '42501' || Date.now() > until) throw err;
      await c.query('SELECT pg_sleep(0.1)');
    }
  }
}

/** Declares `fn`'s tests once per backend. */
export function describeBackends(title: string, fn: (backend: Backend) => void): void {
  describe(`${title} [sqlite]`, () => fn(sqlite));
  if (PG_URL) {
    describe(`${title} [postgresql]`, () => fn(postgres(PG_URL)));
  } else if (!warned) {
    warned = true;
    console.warn('RAINOPS_TEST_PG_URL is not set: the registry conformance suite runs on SQLite only (CI requires it)');
  }
}
