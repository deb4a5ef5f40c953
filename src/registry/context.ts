import { sql } from 'kysely';
import type { Kysely, QueryResult, RawBuilder } from 'kysely';
import { RainopsError } from '../errors.js';
import type { Connection } from './connection.js';
import { LeaseKeeper } from './leases.js';
import type { HeartbeatMode, LeasePolicy } from './leases.js';
import type { RegistryTables } from './schema.js';
import type { Run } from './types.js';

/** How a read-only registry shows a RUNNING run whose holder is gone, without writing it down. */
export interface StaleRun {
  error: string;
  endTime: string;
}

/** What every registry module works with: the connection plus this process's identity and clock. */
export interface RegistryContext {
  readonly conn: Connection;
  /** The database, or inside `write`/`read` the transaction's own connection. */
  readonly db: Kysely<RegistryTables>;
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
  /** Runs this connection started and has not finished, as started: a run's start, name and experiment never change. */
  readonly startedRuns: Map<string, Run>;
  /** Every row of a query. */
  all<R>(query: RawBuilder<R>): Promise<R[]>;
  /** The first row, or undefined. */
  one<R>(query: RawBuilder<R>): Promise<R | undefined>;
  /** Runs a statement; returns how many rows it changed. */
  run(query: RawBuilder<unknown>): Promise<number>;
  /**
   * Runs `fn` in a write transaction that holds the registry's write lock from its first statement (SQLite's
   * BEGIN IMMEDIATE, a transaction advisory lock on PostgreSQL), so read-then-write sequences never race another
   * process on any host. Inside a transaction it just runs `fn`.
   */
  write<T>(fn: (tx: RegistryContext) => Promise<T>): Promise<T>;
  /**
   * `write` without PostgreSQL's registry-wide lock, for transactions that cannot race another writer (each caller
   * says why in one line); SQLite's BEGIN IMMEDIATE still serializes them, as it must for any write there.
   */
  writeUnlocked<T>(fn: (tx: RegistryContext) => Promise<T>): Promise<T>;
  /**
   * One statement that cannot race another writer (the caller says why), as a write of its own: on PostgreSQL a
   * transaction by itself in one round trip, on SQLite in this process's turn. Inside a transaction it just runs.
   */
  writeOne<R>(query: RawBuilder<R>): Promise<QueryResult<R>>;
  /** Runs `fn` in a read transaction: every query in it sees the same state. */
  read<T>(fn: (tx: RegistryContext) => Promise<T>): Promise<T>;
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

type Base = Omit<RegistryContext, 'db' | 'all' | 'one' | 'run' | 'write' | 'writeUnlocked' | 'writeOne' | 'read'>;

/** Throws the read-only refusal; every write checks it first, before it reads anything. */
export function checkWritable(ctx: { readOnly: boolean; conn: Connection }): void {
  if (ctx.readOnly) {
    throw new RainopsError(`registry ${ctx.conn.name} was opened read-only; this command cannot change it`);
  }
}

/** `write` takes the registry-wide lock; `unlocked` is a write transaction without it. */
type Kind = 'write' | 'unlocked' | 'read';

function bind(base: Base, db: Kysely<RegistryTables>, inTransaction: boolean): RegistryContext {
  const writing = <T>(kind: Kind, fn: (tx: RegistryContext) => Promise<T>): Promise<T> => {
    checkWritable(base);
    return inTransaction ? fn(ctx) : transact(base, db, kind, fn);
  };
  const ctx: RegistryContext = {
    ...base,
    db,
    all: async (q) => (await q.execute(db)).rows,
    one: async (q) => (await q.execute(db)).rows[0],
    run: async (q) => Number((await q.execute(db)).numAffectedRows ?? 0n),
    write: (fn) => writing('write', fn),
    writeUnlocked: (fn) => writing('unlocked', fn),
    writeOne: async (q) => {
      checkWritable(base);
      if (inTransaction || base.conn.backend !== 'sqlite') return q.execute(db);
      return inProcessTurn(base.conn.name, () => q.execute(db));
    },
    read: (fn) => (inTransaction ? fn(ctx) : transact(base, db, 'read', fn)),
  };
  return ctx;
}

async function transact<T>(
  base: Base,
  db: Kysely<RegistryTables>,
  kind: Kind,
  fn: (tx: RegistryContext) => Promise<T>,
): Promise<T> {
  const { conn } = base;
  if (kind !== 'read' && conn.backend === 'sqlite') return inProcessTurn(conn.name, () => begin(base, db, kind, fn));
  return begin(base, db, kind, fn);
}

// Writers of one SQLite file in one process take turns here: SQLite's busy wait is synchronous, so a second
// connection waiting for the write lock would block the very event loop the holder needs to commit.
const writeTurns = new Map<string, Promise<unknown>>();

async function inProcessTurn<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = writeTurns.get(key) ?? Promise.resolve();
  const mine = before.then(fn, fn);
  const tail = mine.catch(() => undefined);
  writeTurns.set(key, tail);
  try {
    return await mine;
  } finally {
    if (writeTurns.get(key) === tail) writeTurns.delete(key);
  }
}

async function begin<T>(
  base: Base,
  db: Kysely<RegistryTables>,
  kind: Kind,
  fn: (tx: RegistryContext) => Promise<T>,
): Promise<T> {
  const { conn } = base;
  return db.connection().execute(async (c) => {
    await sql.raw(kind === 'read' ? conn.beginRead : conn.beginWrite).execute(c);
    try {
      if (kind === 'write' && conn.writeLock) await conn.writeLock.execute(c);
      const result = await fn(bind(base, c, true));
      await sql`COMMIT`.execute(c);
      return result;
    } catch (err) {
      await sql`ROLLBACK`.execute(c).catch(() => {});
      throw err;
    }
  });
}

export function createContext(conn: Connection, opts: ContextOptions): RegistryContext {
  // the keeper needs the context and the context carries the keeper: it is filled in right below
  const base = {
    conn,
    now: opts.now,
    pid: opts.pid,
    hostname: opts.hostname,
    isPidAlive: opts.isPidAlive,
    readOnly: opts.readOnly ?? false,
    staleRuns: new Map<string, StaleRun>(),
    startedRuns: new Map<string, Run>(),
  } as Base;
  const ctx = bind(base, conn.db, false);
  const leases = new LeaseKeeper(ctx, opts.lease, opts.heartbeat);
  (base as { leases: LeaseKeeper }).leases = leases;
  (ctx as { leases: LeaseKeeper }).leases = leases;
  return ctx;
}

export function isoNow(ctx: RegistryContext): string {
  return ctx.now().toISOString();
}
