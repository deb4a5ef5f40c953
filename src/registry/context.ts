import type Database from 'better-sqlite3';
import type { Db } from './db.js';

/** What every registry module works with: the connection plus this process's identity and clock. */
export interface RegistryContext {
  readonly db: Db;
  readonly now: () => Date;
  readonly pid: number;
  readonly hostname: string;
  readonly isPidAlive: (pid: number) => boolean;
  /** A prepared statement, compiled once per connection. */
  stmt<R = unknown>(sql: string): Database.Statement<unknown[], R>;
  /** Runs `fn` in a BEGIN IMMEDIATE transaction, so read-then-write sequences never race other processes. */
  write<T>(fn: () => T): T;
}

export interface ContextOptions {
  now: () => Date;
  pid: number;
  hostname: string;
  isPidAlive: (pid: number) => boolean;
}

export function createContext(db: Db, opts: ContextOptions): RegistryContext {
  const cache = new Map<string, Database.Statement<unknown[], unknown>>();
  return {
    db,
    now: opts.now,
    pid: opts.pid,
    hostname: opts.hostname,
    isPidAlive: opts.isPidAlive,
    stmt<R>(sql: string) {
      let s = cache.get(sql);
      if (!s) {
        s = db.prepare(sql);
        cache.set(sql, s);
      }
      return s as Database.Statement<unknown[], R>;
    },
    write<T>(fn: () => T): T {
      return db.transaction(fn).immediate();
    },
  };
}

export function isoNow(ctx: RegistryContext): string {
  return ctx.now().toISOString();
}
