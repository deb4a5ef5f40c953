import type Database from 'better-sqlite3';
import { RainopsError } from '../errors.js';
import type { Db } from './db.js';
import { LeaseKeeper } from './leases.js';
import type { HeartbeatMode, LeasePolicy } from './leases.js';

/** How a read-only registry shows a RUNNING run whose holder is gone, without writing it down. */
export interface StaleRun {
  error: string;
  endTime: string;
}

/** What every registry module works with: the connection plus this process's identity and clock. */
export interface RegistryContext {
  readonly db: Db;
  readonly now: () => Date;
  readonly pid: number;
  readonly hostname: string;
  readonly isPidAlive: (pid: number) => boolean;
  /** Opened without writing: no migrations, no reaping; `write` refuses. */
  readonly readOnly: boolean;
  /** Renews the runs and locks this connection holds. */
  readonly leases: LeaseKeeper;
  /** In a read-only registry: RUNNING runs whose holder is gone, shown as FAILED (a writer records it). */
  readonly staleRuns: Map<string, StaleRun>;
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
  lease: LeasePolicy;
  heartbeat: HeartbeatMode;
  readOnly?: boolean;
}

export function createContext(db: Db, opts: ContextOptions): RegistryContext {
  const cache = new Map<string, Database.Statement<unknown[], unknown>>();
  const readOnly = opts.readOnly ?? false;
  const ctx: Omit<RegistryContext, 'leases'> & { leases?: LeaseKeeper } = {
    db,
    now: opts.now,
    pid: opts.pid,
    hostname: opts.hostname,
    isPidAlive: opts.isPidAlive,
    readOnly,
    staleRuns: new Map(),
    stmt<R>(sql: string) {
      let s = cache.get(sql);
      if (!s) {
        s = db.prepare(sql);
        cache.set(sql, s);
      }
      return s as Database.Statement<unknown[], R>;
    },
    write<T>(fn: () => T): T {
      if (readOnly) throw new RainopsError(`registry ${db.name} was opened read-only; this command cannot change it`);
      return db.transaction(fn).immediate();
    },
  };
  ctx.leases = new LeaseKeeper(ctx as RegistryContext, opts.lease, opts.heartbeat);
  return ctx as RegistryContext;
}

export function isoNow(ctx: RegistryContext): string {
  return ctx.now().toISOString();
}
