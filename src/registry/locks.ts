import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError, UsageError } from '../core/errors.js';
import { isoNow } from './context.js';
import type { RegistryContext } from './context.js';
import type { AcquireLockOptions, LockInfo, ReleaseLock } from './types.js';
import { checkNonEmpty } from './validate.js';

interface LockRow {
  name: string;
  owner_pid: number;
  hostname: string;
  run_id: string | null;
  acquired_at: string;
  token: string;
}

function toLock(row: LockRow): LockInfo {
  return { name: row.name, ownerPid: row.owner_pid, hostname: row.hostname, runId: row.run_id, acquiredAt: row.acquired_at };
}

/** Takes the lock, or returns who holds it; a holder that died on this host loses it. */
function tryAcquire(ctx: RegistryContext, name: string, token: string, runId: string | null): LockInfo | null {
  return ctx.write(() => {
    const row = ctx
      .stmt<LockRow>('SELECT name, owner_pid, hostname, run_id, acquired_at, token FROM locks WHERE name = ?')
      .get(name);
    const reclaimable =
      row !== undefined && row.hostname === ctx.hostname && row.owner_pid !== ctx.pid && !ctx.isPidAlive(row.owner_pid);
    if (row && !reclaimable) return toLock(row);
    ctx
      .stmt(
        `INSERT INTO locks (name, owner_pid, hostname, run_id, acquired_at, token) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET owner_pid = excluded.owner_pid, hostname = excluded.hostname,
           run_id = excluded.run_id, acquired_at = excluded.acquired_at, token = excluded.token`,
      )
      .run(name, ctx.pid, ctx.hostname, runId, isoNow(ctx), token);
    return null;
  });
}

function heldMessage(name: string, holder: LockInfo, waitedMs: number): string {
  const run = holder.runId ? `run ${holder.runId}, ` : '';
  const waited = waitedMs > 0 ? ` after waiting ${waitedMs} ms` : '';
  return (
    `lock '${name}' is still held${waited} by ${run}pid ${holder.ownerPid} on host ${holder.hostname} ` +
    `(since ${holder.acquiredAt}); another rainops command is working, so try again once it has finished`
  );
}

/** Not re-entrant: a second acquire from the same process waits like any other. */
export async function acquireLock(
  ctx: RegistryContext,
  name: string,
  opts: AcquireLockOptions = {},
): Promise<ReleaseLock> {
  checkNonEmpty('lock name', name);
  const waitMs = opts.waitMs ?? 0;
  const pollMs = opts.pollMs ?? 200;
  if (!Number.isFinite(waitMs) || waitMs < 0) throw new UsageError(`lock wait must be 0 ms or more, not ${waitMs}`);
  if (!Number.isFinite(pollMs) || pollMs <= 0) throw new UsageError(`lock poll interval must be above 0 ms, not ${pollMs}`);
  const token = randomBytes(16).toString('hex');
  const started = Date.now();
  for (;;) {
    const holder = tryAcquire(ctx, name, token, opts.runId ?? null);
    if (holder === null) break;
    const left = started + waitMs - Date.now();
    if (left <= 0) throw new ConflictError(heldMessage(name, holder, waitMs));
    await sleep(Math.min(pollMs, left));
  }
  let released = false;
  return () => {
    if (released || !ctx.db.open) return;
    released = true;
    // the token makes this a no-op when another process has since reclaimed the lock
    ctx.stmt('DELETE FROM locks WHERE name = ? AND token = ?').run(name, token);
  };
}

export function listLocks(ctx: RegistryContext): LockInfo[] {
  return ctx
    .stmt<LockRow>('SELECT name, owner_pid, hostname, run_id, acquired_at, token FROM locks ORDER BY name')
    .all()
    .map(toLock);
}
