import fs from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { ConflictError, NotFoundError, UsageError } from '../../src/core/errors.js';
import { waitFor } from '../helpers/registry.js';
import { canSpawnTs, fakeClock, open, runInProcesses, tempDbPath } from './helpers.js';

const RUN = 'ab'.repeat(16);

describe('locks', () => {
  it('keep a second holder out until released', async () => {
    const file = tempDbPath();
    const a = open(file, { pid: 10, hostname: 'h', isPidAlive: () => true });
    const b = open(file, { pid: 20, hostname: 'h', isPidAlive: () => true });
    const release = await a.acquireLock('pipeline', { runId: RUN });
    expect(a.listLocks()).toEqual([
      {
        name: 'pipeline',
        ownerPid: 10,
        hostname: 'h',
        runId: RUN,
        acquiredAt: expect.any(String),
        heartbeatAt: expect.any(String),
        leaseExpiresAt: expect.any(String),
        stale: false,
        staleReason: null,
      },
    ]);
    await expect(b.acquireLock('pipeline')).rejects.toThrow(ConflictError);
    await expect(b.acquireLock('pipeline')).rejects.toThrow(
      new RegExp(
        `lock 'pipeline' is still held by run ${RUN}, pid 10 on host h \\(since .*, last heartbeat .*, lease until .*\\); another rainops command is working.*'rainops locks break pipeline' frees it at once`,
      ),
    );
    // other names are independent
    const other = await b.acquireLock('etl');
    other();
    release();
    release(); // a second call does nothing
    const mine = await b.acquireLock('pipeline');
    expect(b.listLocks().map((l) => l.ownerPid)).toEqual([20]);
    mine();
    expect(b.listLocks()).toEqual([]);
  });

  it('are not re-entrant within one process', async () => {
    const registry = open(tempDbPath());
    const release = await registry.acquireLock('pipeline');
    await expect(registry.acquireLock('pipeline')).rejects.toThrow(ConflictError);
    release();
  });

  it('wait for a holder that releases in time', async () => {
    const file = tempDbPath();
    const a = open(file, { pid: 10, hostname: 'h', isPidAlive: () => true });
    const b = open(file, { pid: 20, hostname: 'h', isPidAlive: () => true });
    const release = await a.acquireLock('pipeline');
    setTimeout(release, 150);
    const started = Date.now();
    const mine = await b.acquireLock('pipeline', { waitMs: 5000, pollMs: 20 });
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(waited).toBeLessThan(2000);
    expect(b.listLocks()[0]?.ownerPid).toBe(20);
    mine();
  });

  it('give up after the wait, naming the holder', async () => {
    const file = tempDbPath();
    const a = open(file, { pid: 10, hostname: 'h', isPidAlive: () => true });
    const b = open(file, { pid: 20, hostname: 'h', isPidAlive: () => true });
    await a.acquireLock('pipeline', { runId: RUN });
    const started = Date.now();
    await expect(b.acquireLock('pipeline', { waitMs: 200, pollMs: 30 })).rejects.toThrow(
      `after waiting 200 ms by run ${RUN}, pid 10 on host h`,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(a.listLocks()[0]?.ownerPid).toBe(10);
  });

  it('reclaim a lock whose holder died on this host, but not one held on another host', async () => {
    const file = tempDbPath();
    const alive = new Set([10, 20, 30]);
    const check = (pid: number) => alive.has(pid);
    const crashed = open(file, { pid: 10, hostname: 'h', isPidAlive: check });
    const elsewhere = open(file, { pid: 30, hostname: 'other', isPidAlive: check });
    const next = open(file, { pid: 20, hostname: 'h', isPidAlive: check });
    const staleRelease = await crashed.acquireLock('pipeline');
    await elsewhere.acquireLock('optimize');
    alive.delete(10);
    alive.delete(30);

    const release = await next.acquireLock('pipeline');
    expect(next.listLocks().find((l) => l.name === 'pipeline')?.ownerPid).toBe(20);
    // the dead holder's release must not free the lock someone else now holds
    staleRelease();
    expect(next.listLocks().find((l) => l.name === 'pipeline')?.ownerPid).toBe(20);
    release();

    await expect(next.acquireLock('optimize', { waitMs: 50, pollMs: 10 })).rejects.toThrow(/pid 30 on host other/);
  });

  it('refuse nonsense wait settings', async () => {
    const registry = open(tempDbPath());
    await expect(registry.acquireLock('x', { waitMs: -1 })).rejects.toThrow(UsageError);
    await expect(registry.acquireLock('x', { pollMs: 0 })).rejects.toThrow(UsageError);
    await expect(registry.acquireLock('')).rejects.toThrow(UsageError);
  });
});

describe('leases', () => {
  const T0 = '2024-03-01T00:00:00.000Z';
  const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();
  const alive = () => true;

  it('free a lock held on another host once its lease runs out, whatever its pid says', async () => {
    const clock = fakeClock(T0);
    const file = tempDbPath();
    const container = open(file, {
      pid: 1,
      hostname: 'container-1',
      isPidAlive: alive,
      now: clock.now,
      leaseMs: 30_000,
    });
    const here = open(file, { pid: 1, hostname: 'host', isPidAlive: alive, now: clock.now, leaseMs: 30_000 });
    await container.acquireLock('model:m');
    expect(here.listLocks()[0]).toMatchObject({ heartbeatAt: T0, leaseExpiresAt: at(30_000), stale: false });

    clock.advance(29_999);
    await expect(here.acquireLock('model:m')).rejects.toThrow(
      /pid 1 on host container-1 .*lease until 2024-03-01T00:00:30.000Z/,
    );
    clock.advance(1);
    expect(here.listLocks()[0]).toMatchObject({
      stale: true,
      staleReason: `heartbeat stopped at ${T0} on host container-1 (pid 1); the lease ran out at ${at(30_000)}`,
    });
    const release = await here.acquireLock('model:m');
    expect(here.listLocks()[0]).toMatchObject({
      hostname: 'host',
      heartbeatAt: at(30_000),
      leaseExpiresAt: at(60_000),
      stale: false,
    });
    // the old holder learns at its next beat that the lock is gone
    expect(container.heartbeat()).toEqual({ runs: 0, locks: 0, lost: ['lock model:m'] });
    expect(container.heartbeat()).toEqual({ runs: 0, locks: 0, lost: [] });
    release();
    expect(here.listLocks()).toEqual([]);
  });

  it('keep a lock and a run held for as long as the holder renews them', async () => {
    const clock = fakeClock(T0);
    const file = tempDbPath();
    const holder = open(file, { pid: 5, hostname: 'a', isPidAlive: alive, now: clock.now, leaseMs: 10_000 });
    const other = open(file, { pid: 6, hostname: 'b', isPidAlive: alive, now: clock.now, leaseMs: 10_000 });
    await holder.acquireLock('model:m');
    const run = holder.startRun({ experiment: 'e', name: 'train' });
    for (let i = 0; i < 5; i++) {
      clock.advance(9_000);
      expect(holder.heartbeat()).toEqual({ runs: 1, locks: 1, lost: [] });
    }
    clock.advance(9_999);
    expect(other.reapDeadRuns()).toBe(0);
    await expect(other.acquireLock('model:m')).rejects.toThrow(ConflictError);
    expect(other.listLocks()[0]).toMatchObject({ heartbeatAt: at(45_000), leaseExpiresAt: at(55_000), stale: false });

    clock.advance(1);
    expect(other.reapDeadRuns()).toBe(1);
    expect(other.getRun(run.id)).toMatchObject({
      status: 'FAILED',
      endTime: at(55_000),
      durationMs: 55_000,
      error: `heartbeat stopped at ${at(45_000)} on host a (pid 5); the lease ran out at ${at(55_000)}`,
    });
    // the holder's own connection never fails what it holds, even late
    expect(holder.reapDeadRuns()).toBe(0);
    expect(holder.heartbeat().lost).toEqual([`run ${run.id}`]);
    expect(() => holder.finishRun(run.id, { status: 'FINISHED' })).toThrow(/already FAILED \(heartbeat stopped/);
  });

  it('end with the run: a finished run holds no lease and is not renewed', () => {
    const clock = fakeClock(T0);
    const registry = open(tempDbPath(), { now: clock.now, leaseMs: 10_000 });
    const run = registry.startRun({ experiment: 'e', name: 'train' });
    clock.advance(4_000);
    registry.finishRun(run.id, { status: 'FINISHED' });
    expect(registry.heartbeat()).toEqual({ runs: 0, locks: 0, lost: [] });
    clock.advance(60_000);
    expect(registry.reapDeadRuns()).toBe(0);
    expect(registry.getRun(run.id)).toMatchObject({ status: 'FINISHED', durationMs: 4_000 });
  });

  it('are renewed by a timer every heartbeat', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const clock = fakeClock(T0);
    const registry = open(tempDbPath(), { now: clock.now, leaseMs: 3_000, heartbeatMs: 1_000 });
    const release = await registry.acquireLock('model:m');
    clock.advance(1_000);
    vi.advanceTimersByTime(999);
    expect(registry.listLocks()[0]?.heartbeatAt).toBe(T0);
    vi.advanceTimersByTime(1);
    expect(registry.listLocks()[0]).toMatchObject({ heartbeatAt: at(1_000), leaseExpiresAt: at(4_000) });
    release();
    expect(vi.getTimerCount()).toBe(0);
    const run = registry.startRun({ experiment: 'e', name: 'x' });
    expect(vi.getTimerCount()).toBe(1);
    registry.close();
    expect(vi.getTimerCount()).toBe(0);
    void run;
  });

  it('name the first top-level run their holder starts', async () => {
    const registry = open(tempDbPath());
    const release = await registry.acquireLock('model:m');
    expect(registry.listLocks()[0]?.runId).toBeNull();
    const run = registry.startRun({ experiment: 'e', name: 'optimize' });
    registry.startRun({ experiment: 'e', name: 'trial-0', parentRunId: run.id });
    registry.startRun({ experiment: 'e', name: 'later' });
    expect(registry.listLocks()[0]?.runId).toBe(run.id);
    release();
  });

  it('refuse a lease without length or a heartbeat slower than the lease', () => {
    const file = tempDbPath();
    expect(() => open(file, { leaseMs: 0 })).toThrow(UsageError);
    expect(() => open(file, { leaseMs: 1000, heartbeatMs: 1000 })).toThrow(
      /heartbeat must come more often than the lease lasts \(1000 ms\)/,
    );
  });

  it.skipIf(!canSpawnTs)('keep being renewed from their own thread while this one is blocked', async () => {
    const file = tempDbPath();
    const holder = open(file, { leaseMs: 2_000, heartbeatMs: 200 });
    const release = await holder.acquireLock('model:m');
    const run = holder.startRun({ experiment: 'e', name: 'refit' });
    const lease = () => {
      const db = new Database(file, { readonly: true });
      try {
        return db
          .prepare('SELECT (SELECT lease_expires_at FROM locks) AS lock, (SELECT lease_expires_at FROM runs) AS run')
          .get() as { lock: string; run: string };
      } finally {
        db.close();
      }
    };
    const first = lease();
    // the thread is up once it has renewed
    await waitFor(() => lease().lock !== first.lock, 30_000);
    // a synchronous stretch two and a half leases long, like a refit that never yields
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5_000);
    const blockedUntil = Date.now();
    const after = lease();
    expect(Date.parse(after.lock)).toBeGreaterThan(blockedUntil);
    expect(Date.parse(after.run)).toBeGreaterThan(blockedUntil);
    const other = open(file, { hostname: 'elsewhere' });
    expect(other.reapDeadRuns()).toBe(0);
    await expect(other.acquireLock('model:m')).rejects.toThrow(ConflictError);
    expect(other.getRun(run.id).status).toBe('RUNNING');
    release();
  });

  it.skipIf(!canSpawnTs)(
    'end their thread before the registry closes, so the closing connection folds the WAL into the file',
    async () => {
      const file = tempDbPath();
      const holder = open(file, { leaseMs: 2_000, heartbeatMs: 100 });
      const run = holder.startRun({ experiment: 'e', name: 'etl' });
      const beat = () => {
        const db = new Database(file, { readonly: true });
        try {
          return (db.prepare('SELECT heartbeat_at FROM runs').get() as { heartbeat_at: string }).heartbeat_at;
        } finally {
          db.close();
        }
      };
      const first = beat();
      await waitFor(() => beat() !== first, 30_000);
      holder.finishRun(run.id, { status: 'FINISHED' });
      await holder.acquireLock('model:m');
      holder.close();
      expect(fs.existsSync(`${file}-wal`)).toBe(false);
      expect(open(file).getRun(run.id).status).toBe('FINISHED');
    },
  );

  it.skipIf(!canSpawnTs)('never keep a process alive: a holder that returns exits', async () => {
    const body = `
      const registry = openRegistry(argv[0], { leaseMs: 600_000 });
      registry.acquireLock('model:m').then(() => {
        registry.startRun({ experiment: 'e', name: 'held' });
        process.stdout.write('held');
      });`;
    const file = tempDbPath();
    expect(await runInProcesses(body, () => [file], 1)).toEqual(['held']);
    expect(open(file, { isPidAlive: alive }).listLocks()).toMatchObject([{ name: 'model:m', stale: false }]);
  });
});

describe('breakLock', () => {
  it('removes the lock and fails its RUNNING run, saying who broke it and why', async () => {
    const clock = fakeClock('2024-03-01T00:00:00.000Z');
    const file = tempDbPath();
    const holder = open(file, { pid: 7, hostname: 'box', isPidAlive: () => true, now: clock.now });
    const operator = open(file, { pid: 8, hostname: 'ops', isPidAlive: () => true, now: clock.now });
    const release = await holder.acquireLock('model:m');
    const run = holder.startRun({ experiment: 'e', name: 'retrain' });
    clock.advance(1_000);
    const trial = holder.startRun({ experiment: 'e', name: 'trial-0', parentRunId: run.id });
    const done = holder.startRun({ experiment: 'e', name: 'trial-1', parentRunId: run.id });
    holder.finishRun(done.id, { status: 'FINISHED' });
    clock.advance(4_000);
    const broken = operator.breakLock('model:m', { reason: 'container was killed' });
    expect(broken).toMatchObject({
      lock: { name: 'model:m', ownerPid: 7, hostname: 'box', runId: run.id, stale: false },
      runId: run.id,
      runFailed: true,
      note: 'lock model:m broken by operator on ops: container was killed',
    });
    expect(operator.listLocks()).toEqual([]);
    const failed = operator.getRun(run.id);
    expect(failed).toMatchObject({
      status: 'FAILED',
      error: 'lock model:m broken by operator on ops: container was killed',
      durationMs: 5_000,
    });
    expect(failed.tags.lock_broken).toBe(
      '2024-03-01T00:00:05.000Z lock model:m broken by operator on ops: container was killed',
    );
    // its trials end with it; finished ones stay as they were
    expect(operator.getRun(trial.id)).toMatchObject({ status: 'FAILED', error: failed.error, durationMs: 4_000 });
    expect(operator.getRun(done.id).status).toBe('FINISHED');
    // the holder, if it still works, loses all it held and cannot finish its run as if nothing happened
    expect(holder.heartbeat().lost.sort()).toEqual([`lock model:m`, `run ${run.id}`, `run ${trial.id}`].sort());
    expect(() => holder.finishRun(run.id, { status: 'FINISHED' })).toThrow(ConflictError);
    const mine = await operator.acquireLock('model:m');
    release(); // the old holder's release leaves the new lock alone
    expect(operator.listLocks()).toMatchObject([{ ownerPid: 8 }]);
    mine();
  });

  it('tags a run that already ended, handles a lock without a run, and names a missing lock', async () => {
    const registry = open(tempDbPath());
    const release = await registry.acquireLock('model:m');
    const run = registry.startRun({ experiment: 'e', name: 'optimize' });
    registry.finishRun(run.id, { status: 'FINISHED' });
    expect(registry.breakLock('model:m', { actor: 'ci' })).toMatchObject({
      runId: run.id,
      runFailed: false,
      note: 'lock model:m broken by ci',
    });
    expect(registry.getRun(run.id)).toMatchObject({
      status: 'FINISHED',
      tags: { lock_broken: expect.stringMatching(/ lock model:m broken by ci$/) },
    });
    release();

    await registry.acquireLock('etl');
    expect(registry.breakLock('etl')).toMatchObject({ runId: null, runFailed: false });
    expect(() => registry.breakLock('etl')).toThrow(NotFoundError);
    expect(() => registry.breakLock('etl')).toThrow(
      "no lock named 'etl'; list the locks held now with 'rainops locks list'",
    );
  });
});
