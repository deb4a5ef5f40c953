import { UsageError } from '../core/errors.js';
import type { RegistryContext } from './context.js';

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

export function leasePolicy(opts: { leaseMs?: number | undefined; heartbeatMs?: number | undefined } = {}): LeasePolicy {
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new UsageError(`a lease must last more than 0 ms, not ${leaseMs}`);
  const heartbeatMs = opts.heartbeatMs ?? Math.max(1, Math.floor(leaseMs / 3));
  if (!Number.isFinite(heartbeatMs) || heartbeatMs <= 0 || heartbeatMs >= leaseMs) {
    throw new UsageError(`the heartbeat must come more often than the lease lasts (${leaseMs} ms), not every ${heartbeatMs} ms`);
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
    return { kind: 'expired', heartbeatAt: holder.heartbeatAt, leaseExpiresAt: holder.leaseExpiresAt!, hostname: holder.hostname, pid: holder.pid };
  }
  const sameHost = holder.hostname === observer.hostname;
  if (sameHost && holder.pid !== observer.pid && !observer.isPidAlive(holder.pid)) {
    return { kind: 'exited', hostname: holder.hostname, pid: holder.pid };
  }
  return null;
}

/** One line for a run's error or a lock listing. */
export function describeLapse(l: Lapse, what: 'run' | 'lock'): string {
  if (l.kind === 'exited') return what === 'run' ? `process ${l.pid} exited without finishing the run` : `process ${l.pid} on host ${l.hostname} exited`;
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

/**
 * Renews the leases of every run and lock this connection holds, from a timer that never keeps the process
 * alive. The timer runs only while something is held.
 */
export class LeaseKeeper {
  readonly #ctx: RegistryContext;
  readonly policy: LeasePolicy;
  readonly #runs = new Set<string>();
  /** token -> lock name */
  readonly #locks = new Map<string, string>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(ctx: RegistryContext, policy: LeasePolicy) {
    this.#ctx = ctx;
    this.policy = policy;
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
    this.#schedule();
  }

  dropRun(id: string): void {
    this.#runs.delete(id);
    this.#schedule();
  }

  holdLock(token: string, name: string): void {
    this.#locks.set(token, name);
    this.#schedule();
  }

  dropLock(token: string): void {
    this.#locks.delete(token);
    this.#schedule();
  }

  /** Pushes every held expiry one lease past now, in one write; forgets what another process took away. */
  renew(): RenewResult {
    const result: RenewResult = { runs: 0, locks: 0, lost: [] };
    if (this.#closed || !this.#ctx.db.open || (this.#runs.size === 0 && this.#locks.size === 0)) return result;
    const ctx = this.#ctx;
    const lostRuns: string[] = [];
    const lostTokens: string[] = [];
    ctx.write(() => {
      const now = ctx.now();
      const beat = now.toISOString();
      const until = this.expiry(now);
      const run = ctx.stmt("UPDATE runs SET heartbeat_at = ?, lease_expires_at = ? WHERE id = ? AND status = 'RUNNING'");
      for (const id of this.#runs) {
        if (run.run(beat, until, id).changes === 1) result.runs++;
        else lostRuns.push(id);
      }
      const lock = ctx.stmt('UPDATE locks SET heartbeat_at = ?, lease_expires_at = ? WHERE name = ? AND token = ?');
      for (const [token, name] of this.#locks) {
        if (lock.run(beat, until, name, token).changes === 1) result.locks++;
        else lostTokens.push(token);
      }
    });
    for (const id of lostRuns) {
      this.#runs.delete(id);
      result.lost.push(`run ${id}`);
    }
    for (const token of lostTokens) {
      result.lost.push(`lock ${this.#locks.get(token)!}`);
      this.#locks.delete(token);
    }
    this.#schedule();
    return result;
  }

  close(): void {
    this.#closed = true;
    this.#schedule();
  }

  #schedule(): void {
    const wanted = !this.#closed && (this.#runs.size > 0 || this.#locks.size > 0);
    if (wanted && this.#timer === null) {
      this.#timer = setInterval(() => this.#beat(), this.policy.heartbeatMs);
      // a heartbeat must never be the reason a finished command stays alive
      this.#timer.unref();
    } else if (!wanted && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  #beat(): void {
    try {
      this.renew();
    } catch {
      // a busy or full database: the next beat tries again, and the lease has room for two missed beats
    }
  }
}
