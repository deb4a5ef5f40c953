import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

/** The PostgreSQL server the tests may use (its maintenance database); unset skips them, except in CI. */
export const PG_URL = process.env.RAINOPS_TEST_PG_URL;

/** In CI a missing server is an error, not a reason to skip `what`; elsewhere a warning says what was skipped. */
export function requirePg(what: string): void {
  if (!PG_URL && process.env.CI === 'true') {
    throw new Error(`RAINOPS_TEST_PG_URL is not set: in CI ${what} must not be skipped`);
  }
  if (!PG_URL) console.warn(`RAINOPS_TEST_PG_URL is not set: ${what} is skipped`);
}

/** Admin SQL on the server's maintenance database (creating and dropping test databases). */
export async function pgAdmin(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/** A fresh database for the calling suite, created before its tests and dropped after them; its URL. */
export function pgTestDatabase(prefix: string): { name: string; url: URL } {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const url = new URL(PG_URL ?? 'postgres://localhost/none');
  url.pathname = `/${name}`;
  beforeAll(() => pgAdmin(`CREATE DATABASE ${name}`));
  afterAll(() => pgAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  return { name, url };
}
