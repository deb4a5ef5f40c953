import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import { UsageError } from '../errors.js';
import type { RegistryContext } from './context.js';
import { startHeartbeatThread } from './heartbeat-thread.js';
import type { RegistryTables } from './schema.js';
import type { HeartbeatThread } from './heartbeat-thread.js';

/**
 * Leases: a RUNNING run or a lock belongs to its holder only while the holder keeps renewing it. Whether a
 * holder still holds is decided from the recorded expiry alone (plus a process-id hint on the holder's own
 * host), so the rule works for any process on any host that shares the registry, whatever database holds it.
 */

export const DEFAULT_LEASE_MS = 30_000;

export interface LeasePolicy {
  /** How long a run or lock stays held after its last renewal. */
  readonly leaseMs: number;
  /** How often a holder renews; a third of the lease leaves room for two missed beats. */
  readonly heartbeatMs: number;
}

export function leasePolicy(
  opts: { leaseMs?: number | undefined; heartbeatMs?: number | undefined } = {},
): LeasePolicy {
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isFinite(leaseMs) || leaseMs <= 0)
    throw new UsageError(`a lease must last more than 0 ms, not ${leaseMs}`);
  const heartbeatMs = opts.heartbeatMs ?? Math.max(1, Math.floor(leaseMs / 3));
  if (!Number.isFinite(heartbeatMs) || heartbeatMs <= 0 || heartbeatMs >= leaseMs) {
    throw new UsageError(
      `the heartbeat must come more often than the lease lasts (${leaseMs} ms), not every ${heartbeatMs} ms`,
    );
  }
  return { leaseMs, heartbeatMs };
}

/** What a run or a lock records about who holds it. */
export interface LeaseHolder {
  pid: number;
  hostname: string;
  heartbeatAt: string | null;
  /** Null for a holder that never had a lease: only the process-id hint applies. */
  leaseExpiresAt: string | null;
}

/** The process asking, as recorded on what it holds. */
export interface LeaseObserver {
  pid: number;
  hostname: string;
  isPidAlive: (pid: number) => boolean;
}

export type Lapse =
  | { kind: 'expired'; heartbeatAt: string | null; leaseExpiresAt: string; hostname: string; pid: number }
  | { kind: 'exited'; hostname: string; pid: number };

export function leaseExpired(holder: LeaseHolder, now: Date): boolean {
  return holder.leaseExpiresAt !== null && Date.parse(holder.leaseExpiresAt) <= now.getTime();
}

/**
 * Why `holder` no longer holds, or null while it does: its lease ran out (on any host), or it was a
 * process on the observer's own host that no longer exists. Another process's ids mean nothing off its host.
 */
export function lapse(holder: LeaseHolder, observer: LeaseObserver, now: Date): Lapse | null {
  if (leaseExpired(holder, now)) {
    return {
      kind: 'expired',
      heartbeatAt: holder.heartbeatAt,
      leaseExpiresAt: holder.leaseExpiresAt!,
      hostname: holder.hostname,
      pid: holder.pid,
    };
  }
  const sameHost = holder.hostname === observer.hostname;
  if (sameHost && holder.pid !== observer.pid && !observer.isPidAlive(holder.pid)) {
    return { kind: 'exited', hostname: holder.hostname, pid: holder.pid };
  }
  return null;
}

/** One line for a run's error or a lock listing. */
export function describeLapse(l: Lapse, what: 'run' | 'lock'): string {
  if (l.kind === 'exited')
    return what === 'run'
      ? `process ${l.pid} exited without finishing the run`
      : `process ${l.pid} on host ${l.hostname} exited`;
  return `heartbeat stopped at ${l.heartbeatAt ?? 'an unknown time'} on host ${l.hostname} (pid ${l.pid}); the lease ran out at ${l.leaseExpiresAt}`;
}

export function expiryFrom(now: Date, policy: LeasePolicy): string {
  return new Date(now.getTime() + policy.leaseMs).toISOString();
}

export interface RenewResult {
  runs: number;
  locks: number;
  /** Runs and locks this process held but no longer does (failed or broken by another process). */
  lost: string[];
}

/** What a process holds: the ids of its RUNNING runs and the tokens of its locks. */
export interface Held {
  runs: string[];
  locks: Array<{ token: string; name: string }>;
}

export interface Renewal {
  runs: number;
  locks: number;
  lostRuns: string[];
  lostTokens: string[];
}

/**
 * One transaction that pushes every held expiry one lease past `now`; the SQL of both the in-thread and the
 * background heartbeat. Single-row updates keyed by id and token: no read-then-write, so no write lock is needed.
 */
export async function renewHeld(
  db: Kysely<RegistryTables>,
  begin: string,
  held: Held,
  now: Date,
  leaseMs: number,
): Promise<Renewal> {
  const out: Renewal = { runs: 0, locks: 0, lostRuns: [], lostTokens: [] };
  const beat = now.toISOString();
  const until = new Date(now.getTime() + leaseMs).toISOString();
  const changed = async (c: Kysely<RegistryTables>, q: RawBuilder<unknown>) =>
    Number((await q.execute(c)).numAffectedRows ?? 0n);
  await db.connection().execute(async (c) => {
    await sql.raw(begin).execute(c);
    try {
      for (const id of held.runs) {
        const n = await changed(
          c,
          sql`UPDATE runs SET heartbeat_at = ${beat}, lease_expires_at = ${until} WHERE id = ${id} AND status = 'RUNNING'`,
        );
        if (n === 1) out.runs++;
        else out.lostRuns.push(id);
      }
      for (const { token, name } of held.locks) {
        const n = await changed(
          c,
          sql`UPDATE locks SET heartbeat_at = ${beat}, lease_expires_at = ${until} WHERE name = ${name} AND token = ${token}`,
        );
        if (n === 1) out.locks++;
        else out.lostTokens.push(token);
      }
      await sql`COMMIT`.execute(c);
    } catch (err) {
      await sql`ROLLBACK`.execute(c).catch(() => {});
      throw err;
    }
  });
  return out;
}

/** Where the periodic renewal runs. */
export type HeartbeatMode = 'thread' | 'timer';

/**
 * Renews the leases of every run and lock this connection holds while anything is held, and never keeps the
 * process alive. In `thread` mode a worker thread with its own connection renews them, so training that holds
 * the event loop for longer than a lease (measured: up to a minute for deep trees on a loaded machine) keeps
 * its lock; `timer` mode renews from this thread with the injected clock (tests).
 */
export class LeaseKeeper {
  readonly #ctx: RegistryContext;
  readonly policy: LeasePolicy;
  readonly #mode: HeartbeatMode;
  readonly #runs = new Set<string>();
  /** token -> lock name */
  readonly #locks = new Map<string, string>();
  #timer: NodeJS.Timeout | null = null;
  #thread: HeartbeatThread | null = null;
  #closed = false;

  constructor(ctx: RegistryContext, policy: LeasePolicy, mode: HeartbeatMode) {
    this.#ctx = ctx;
    this.policy = policy;
    this.#mode = mode;
  }

  expiry(now: Date): string {
    return expiryFrom(now, this.policy);
  }

  holdsRun(id: string): boolean {
    return this.#runs.has(id);
  }

  lockTokens(): string[] {
    return [...this.#locks.keys()];
  }

  holdRun(id: string): void {
    this.#runs.add(id);
    this.#changed();
  }

  dropRun(id: string): void {
    this.#runs.delete(id);
    this.#changed();
  }

  holdLock(token: string, name: string): void {
    this.#locks.set(token, name);
    this.#changed();
  }

  dropLock(token: string): void {
    this.#locks.delete(token);
    this.#changed();
  }

  /** Renews everything held now, from this thread; forgets what another process took away. */
  async renew(): Promise<RenewResult> {
    if (this.#closed || !this.#ctx.conn.isOpen() || this.#empty()) return { runs: 0, locks: 0, lost: [] };
    const ctx = this.#ctx;
    const begin = ctx.conn.backend === 'sqlite' ? 'BEGIN IMMEDIATE' : 'BEGIN';
    const r = await renewHeld(ctx.db, begin, this.#held(), ctx.now(), this.policy.leaseMs);
    const lost = [
      ...r.lostRuns.map((id) => `run ${id}`),
      ...r.lostTokens.map((t) => `lock ${this.#locks.get(t) ?? '?'}`),
    ];
    this.#forget(r.lostRuns, r.lostTokens);
    return { runs: r.runs, locks: r.locks, lost };
  }

  close(): void {
    this.#closed = true;
    this.#changed();
  }

  #empty(): boolean {
    return this.#runs.size === 0 && this.#locks.size === 0;
  }

  #held(): Held {
    return { runs: [...this.#runs], locks: [...this.#locks].map(([token, name]) => ({ token, name })) };
  }

  #forget(runs: readonly string[], tokens: readonly string[]): void {
    for (const id of runs) this.#runs.delete(id);
    for (const t of tokens) this.#locks.delete(t);
    if (runs.length > 0 || tokens.length > 0) this.#changed();
  }

  #changed(): void {
    const wanted = !this.#closed && !this.#empty();
    if (!wanted) {
      this.#stop();
      return;
    }
    if (this.#mode === 'thread' && this.#thread === null && this.#timer === null) {
      this.#thread = startHeartbeatThread(
        this.#ctx.conn.location,
        this.policy,
        (runs, tokens) => this.#forget(runs, tokens),
        () => this.#fallBack(),
      );
    }
    if (this.#thread) this.#thread.update(this.#held());
    else if (this.#timer === null) this.#startTimer();
  }

  #startTimer(): void {
    this.#timer = setInterval(() => this.#beat(), this.policy.heartbeatMs);
    // a heartbeat must never be the reason a finished command stays alive
    this.#timer.unref();
  }

  /** The thread could not start or died: renew from this thread instead. */
  #fallBack(): void {
    this.#thread = null;
    if (!this.#closed && !this.#empty() && this.#timer === null) this.#startTimer();
  }

  #stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#thread?.stop();
    this.#thread = null;
  }

  #beat(): void {
    // a busy, full or unreachable database: the next beat tries again, and the lease has room for two missed beats
    this.renew().catch(() => {});
  }
}
