import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError, NotFoundError, UsageError } from '../errors.js';
import type { RegistryContext } from './context.js';
import { describeLapse, lapse } from './leases.js';
import { failRun, reapDeadRuns, upsertTag } from './runs.js';
import type { AcquireLockOptions, BreakLockOptions, BrokenLock, LockInfo, ReleaseLock } from './types.js';
import { checkNonEmpty } from './validate.js';
import type { RegistryTables } from './schema.js';

type LockRow = RegistryTables['locks'];

const LOCK_SELECT = sql`SELECT name, owner_pid, hostname, run_id, acquired_at, token, heartbeat_at, lease_expires_at
  FROM locks`;

/** Why the row's holder no longer holds it, or null while it does. */
function staleReason(ctx: RegistryContext, row: LockRow, now: Date): string | null {
  const why = lapse(
    { pid: row.owner_pid, hostname: row.hostname, heartbeatAt: row.heartbeat_at, leaseExpiresAt: row.lease_expires_at },
    ctx,
    now,
  );
  return why ? describeLapse(why, 'lock') : null;
}

function toLock(ctx: RegistryContext, row: LockRow, now: Date): LockInfo {
  const reason = staleReason(ctx, row, now);
  return {
    name: row.name,
    ownerPid: row.owner_pid,
    hostname: row.hostname,
    runId: row.run_id,
    acquiredAt: row.acquired_at,
    heartbeatAt: row.heartbeat_at,
    leaseExpiresAt: row.lease_expires_at,
    stale: reason !== null,
    staleReason: reason,
  };
}

/** Takes the lock, or returns who holds it; a holder whose lease ran out (or who died on this host) loses it. */
function tryAcquire(
  ctx: RegistryContext,
  name: string,
  token: string,
  runId: string | null,
): Promise<{ holder: LockInfo | null; reclaimed: boolean }> {
  return ctx.write(async (tx) => {
    const now = tx.now();
    const row = await tx.one(sql<LockRow>`${LOCK_SELECT} WHERE name = ${name}`);
    if (row && staleReason(tx, row, now) === null) return { holder: toLock(tx, row, now), reclaimed: false };
    const at = now.toISOString();
    await tx.run(
      sql`INSERT INTO locks (name, owner_pid, hostname, run_id, acquired_at, token, heartbeat_at, lease_expires_at)
        VALUES (${name}, ${tx.pid}, ${tx.hostname}, ${runId}, ${at}, ${token}, ${at}, ${tx.leases.expiry(now)})
        ON CONFLICT (name) DO UPDATE SET owner_pid = excluded.owner_pid, hostname = excluded.hostname,
          run_id = excluded.run_id, acquired_at = excluded.acquired_at, token = excluded.token,
          heartbeat_at = excluded.heartbeat_at, lease_expires_at = excluded.lease_expires_at`,
    );
    return { holder: null, reclaimed: row !== undefined };
  });
}

function heldMessage(name: string, holder: LockInfo, waitedMs: number): string {
  const run = holder.runId ? `run ${holder.runId}, ` : '';
  const waited = waitedMs > 0 ? ` after waiting ${waitedMs} ms` : '';
  const beat = holder.heartbeatAt ? `, last heartbeat ${holder.heartbeatAt}, lease until ${holder.leaseExpiresAt}` : '';
  return (
    `lock '${name}' is still held${waited} by ${run}pid ${holder.ownerPid} on host ${holder.hostname} ` +
    `(since ${holder.acquiredAt}${beat}); another rainops command is working, so try again once it has finished ` +
    `(or once its lease runs out if it died; 'rainops locks break ${name}' frees it at once)`
  );
}

/** Not re-entrant: a second acquire from the same process waits like any other. The lease is renewed until release. */
export async function acquireLock(
  ctx: RegistryContext,
  name: string,
  opts: AcquireLockOptions = {},
): Promise<ReleaseLock> {
  checkNonEmpty('lock name', name);
  const waitMs = opts.waitMs ?? 0;
  const pollMs = opts.pollMs ?? 200;
  if (!Number.isFinite(waitMs) || waitMs < 0) throw new UsageError(`lock wait must be 0 ms or more, not ${waitMs}`);
  if (!Number.isFinite(pollMs) || pollMs <= 0)
    throw new UsageError(`lock poll interval must be above 0 ms, not ${pollMs}`);
  const token = randomBytes(16).toString('hex');
  const started = Date.now();
  for (;;) {
    const { holder, reclaimed } = await tryAcquire(ctx, name, token, opts.runId ?? null);
    if (holder === null) {
      ctx.leases.holdLock(token, name);
      // the holder that lost the lock also lost its run: record that now rather than at the next start
      if (reclaimed) await reapDeadRuns(ctx);
      break;
    }
    const left = started + waitMs - Date.now();
    if (left <= 0) throw new ConflictError(heldMessage(name, holder, waitMs));
    await sleep(Math.min(pollMs, left));
  }
  let released = false;
  return async () => {
    if (released || !ctx.conn.isOpen()) return;
    released = true;
    ctx.leases.dropLock(token);
    // the token makes this a no-op when another process has since reclaimed the lock
    await ctx.run(sql`DELETE FROM locks WHERE name = ${name} AND token = ${token}`);
  };
}

export async function listLocks(ctx: RegistryContext): Promise<LockInfo[]> {
  const now = ctx.now();
  return (await ctx.all(sql<LockRow>`${LOCK_SELECT} ORDER BY name`)).map((row) => toLock(ctx, row, now));
}

/**
 * Removes a lock whoever holds it, and records why on its run: a RUNNING run (and its RUNNING children) becomes
 * FAILED (a holder that is still alive finds its run failed when it finishes); the run gets a `lock_broken` tag.
 */
export async function breakLock(ctx: RegistryContext, name: string, opts: BreakLockOptions = {}): Promise<BrokenLock> {
  checkNonEmpty('lock name', name);
  const actor = opts.actor ?? `operator on ${ctx.hostname}`;
  const note = `lock ${name} broken by ${actor}${opts.reason ? `: ${opts.reason}` : ''}`;
  return ctx.write(async (tx) => {
    const now = tx.now();
    const row = await tx.one(sql<LockRow>`${LOCK_SELECT} WHERE name = ${name}`);
    if (!row) throw new NotFoundError(`no lock named '${name}'; list the locks held now with 'rainops locks list'`);
    const lock = toLock(tx, row, now);
    await tx.run(sql`DELETE FROM locks WHERE name = ${name} AND token = ${row.token}`);
    const run = row.run_id
      ? await tx.one(sql<{ start_time: string }>`SELECT start_time FROM runs WHERE id = ${row.run_id}`)
      : undefined;
    if (!row.run_id || !run) return { lock, runId: null, runFailed: false, note };
    const failed = (await failRun(tx, row.run_id, run.start_time, now, note)) === 1;
    // its trials end with it, rather than staying RUNNING until their own leases run out
    const children = await tx.all(
      sql<{ id: string; start_time: string }>`SELECT id, start_time FROM runs
        WHERE parent_run_id = ${row.run_id} AND status = 'RUNNING'`,
    );
    for (const child of children) await failRun(tx, child.id, child.start_time, now, note);
    await upsertTag(tx, row.run_id, 'lock_broken', `${now.toISOString()} ${note}`);
    return { lock, runId: row.run_id, runFailed: failed, note };
  });
}
