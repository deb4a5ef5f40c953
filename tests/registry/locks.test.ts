import fs from 'node:fs';
import Database from 'better-sqlite3';
import { expect, it, onTestFinished, vi } from 'vitest';
import { ConflictError, NotFoundError, UsageError } from '../../src/core/errors.js';
import { waitFor } from '../helpers/registry.js';
import { canSpawnTs, fakeClock, open, runInProcesses } from './helpers.js';
import { describeBackends } from './backends.js';

const RUN = 'ab'.repeat(16);

describeBackends('locks', (backend) => {
  it('keep a second holder out until released', async () => {
    const file = await backend.fresh();
    const a = await open(file, { pid: 10, hostname: 'h', isPidAlive: () => true });
    const b = await open(file, { pid: 20, hostname: 'h', isPidAlive: () => true });
    const release = await a.acquireLock('pipeline', { runId: RUN });
    expect(await a.listLocks()).toEqual([
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
    await release();
    await release(); // a second call does nothing
    const mine = await b.acquireLock('pipeline');
    expect((await b.listLocks()).map((l) => l.ownerPid)).toEqual([20]);
    await mine();
    expect(await b.listLocks()).toEqual([]);
  });

  it('are not re-entrant within one process', async () => {
    const registry = await open(await backend.fresh());
    const release = await registry.acquireLock('pipeline');
    await expect(registry.acquireLock('pipeline')).rejects.toThrow(ConflictError);
    await release();
  });

  it('wait for a holder that releases in time', async () => {
    const file = await backend.fresh();
    const a = await open(file, { pid: 10, hostname: 'h', isPidAlive: () => true });
    const b = await open(file, { pid: 20, hostname: 'h', isPidAlive: () => true });
    const release = await a.acquireLock('pipeline');
    // b's acquire can only succeed once a started releasing: the state, not the clock, shows that it waited
    let releasing = false;
    setTimeout(() => {
      releasing = true;
      void release();
    }, 150);
    const mine = await b.acquireLock('pipeline', { waitMs: 5000, pollMs: 20 });
    expect(releasing).toBe(true);
    expect(await b.listLocks()).toMatchObject([{ name: 'pipeline', ownerPid: 20 }]);
    await mine();
  });

  it('give up after the wait, naming the holder', async () => {
    const file = await backend.fresh();
    const a = await open(file, { pid: 10, hostname: 'h', isPidAlive: () => true });
    const b = await open(file, { pid: 20, hostname: 'h', isPidAlive: () => true });
    await a.acquireLock('pipeline', { runId: RUN });
    const started = Date.now();
    await expect(b.acquireLock('pipeline', { waitMs: 200, pollMs: 30 })).rejects.toThrow(
      `after waiting 200 ms by run ${RUN}, pid 10 on host h`,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect((await a.listLocks())[0]?.ownerPid).toBe(10);
  });

  it('reclaim a lock whose holder died on this host, but not one held on another host', async () => {
    const file = await backend.fresh();
    const alive = new Set([10, 20, 30]);
    const check = (pid: number) => alive.has(pid);
    const crashed = await open(file, { pid: 10, hostname: 'h', isPidAlive: check });
    const elsewhere = await open(file, { pid: 30, hostname: 'other', isPidAlive: check });
    const next = await open(file, { pid: 20, hostname: 'h', isPidAlive: check });
    const staleRelease = await crashed.acquireLock('pipeline');
    await elsewhere.acquireLock('optimize');
    alive.delete(10);
    alive.delete(30);

    const release = await next.acquireLock('pipeline');
    expect((await next.listLocks()).find((l) => l.name === 'pipeline')?.ownerPid).toBe(20);
    // the dead holder's release must not free the lock someone else now holds
    staleRelease();
    expect((await next.listLocks()).find((l) => l.name === 'pipeline')?.ownerPid).toBe(20);
    await release();

    await expect(next.acquireLock('optimize', { waitMs: 50, pollMs: 10 })).rejects.toThrow(/pid 30 on host other/);
  });

  it('refuse nonsense wait settings', async () => {
    const registry = await open(await backend.fresh());
    await expect(registry.acquireLock('x', { waitMs: -1 })).rejects.toThrow(UsageError);
    await expect(registry.acquireLock('x', { pollMs: 0 })).rejects.toThrow(UsageError);
    await expect(registry.acquireLock('')).rejects.toThrow(UsageError);
  });
});

describeBackends('leases', (backend) => {
  const T0 = '2024-03-01T00:00:00.000Z';
  const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();
  const alive = () => true;

  it('free a lock held on another host once its lease runs out, whatever its pid says', async () => {
    const clock = fakeClock(T0);
    const file = await backend.fresh();
    const container = await open(file, {
      pid: 1,
      hostname: 'container-1',
      isPidAlive: alive,
      now: clock.now,
      leaseMs: 30_000,
    });
    const here = await open(file, { pid: 1, hostname: 'host', isPidAlive: alive, now: clock.now, leaseMs: 30_000 });
    await container.acquireLock('model:m');
    expect((await here.listLocks())[0]).toMatchObject({ heartbeatAt: T0, leaseExpiresAt: at(30_000), stale: false });

    clock.advance(29_999);
    await expect(here.acquireLock('model:m')).rejects.toThrow(
      /pid 1 on host container-1 .*lease until 2024-03-01T00:00:30.000Z/,
    );
    clock.advance(1);
    expect((await here.listLocks())[0]).toMatchObject({
      stale: true,
      staleReason: `heartbeat stopped at ${T0} on host container-1 (pid 1); the lease ran out at ${at(30_000)}`,
    });
    const release = await here.acquireLock('model:m');
    expect((await here.listLocks())[0]).toMatchObject({
      hostname: 'host',
      heartbeatAt: at(30_000),
      leaseExpiresAt: at(60_000),
      stale: false,
    });
    // the old holder learns at its next beat that the lock is gone
    expect(await container.heartbeat()).toEqual({ runs: 0, locks: 0, lost: ['lock model:m'] });
    expect(await container.heartbeat()).toEqual({ runs: 0, locks: 0, lost: [] });
    await release();
    expect(await here.listLocks()).toEqual([]);
  });

  it('keep a lock and a run held for as long as the holder renews them', async () => {
    const clock = fakeClock(T0);
    const file = await backend.fresh();
    const holder = await open(file, { pid: 5, hostname: 'a', isPidAlive: alive, now: clock.now, leaseMs: 10_000 });
    const other = await open(file, { pid: 6, hostname: 'b', isPidAlive: alive, now: clock.now, leaseMs: 10_000 });
    await holder.acquireLock('model:m');
    const run = await holder.startRun({ experiment: 'e', name: 'train' });
    for (let i = 0; i < 5; i++) {
      clock.advance(9_000);
      expect(await holder.heartbeat()).toEqual({ runs: 1, locks: 1, lost: [] });
    }
    clock.advance(9_999);
    expect(await other.reapDeadRuns()).toBe(0);
    await expect(other.acquireLock('model:m')).rejects.toThrow(ConflictError);
    expect((await other.listLocks())[0]).toMatchObject({
      heartbeatAt: at(45_000),
      leaseExpiresAt: at(55_000),
      stale: false,
    });

    clock.advance(1);
    expect(await other.reapDeadRuns()).toBe(1);
    expect(await other.getRun(run.id)).toMatchObject({
      status: 'FAILED',
      endTime: at(55_000),
      durationMs: 55_000,
      error: `heartbeat stopped at ${at(45_000)} on host a (pid 5); the lease ran out at ${at(55_000)}`,
    });
    // the holder's own connection never fails what it holds, even late
    expect(await holder.reapDeadRuns()).toBe(0);
    expect((await holder.heartbeat()).lost).toEqual([`run ${run.id}`]);
    await expect(holder.finishRun(run.id, { status: 'FINISHED' })).rejects.toThrow(
      /already FAILED \(heartbeat stopped/,
    );
  });

  it('end with the run: a finished run holds no lease and is not renewed', async () => {
    const clock = fakeClock(T0);
    const registry = await open(await backend.fresh(), { now: clock.now, leaseMs: 10_000 });
    const run = await registry.startRun({ experiment: 'e', name: 'train' });
    clock.advance(4_000);
    await registry.finishRun(run.id, { status: 'FINISHED' });
    expect(await registry.heartbeat()).toEqual({ runs: 0, locks: 0, lost: [] });
    clock.advance(60_000);
    expect(await registry.reapDeadRuns()).toBe(0);
    expect(await registry.getRun(run.id)).toMatchObject({ status: 'FINISHED', durationMs: 4_000 });
  });

  it('are renewed by a timer every heartbeat', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const clock = fakeClock(T0);
    const registry = await open(await backend.fresh(), { now: clock.now, leaseMs: 3_000, heartbeatMs: 1_000 });
    const release = await registry.acquireLock('model:m');
    clock.advance(1_000);
    vi.advanceTimersByTime(999);
    expect((await registry.listLocks())[0]?.heartbeatAt).toBe(T0);
    vi.advanceTimersByTime(1);
    expect((await registry.listLocks())[0]).toMatchObject({ heartbeatAt: at(1_000), leaseExpiresAt: at(4_000) });
    await release();
    expect(vi.getTimerCount()).toBe(0);
    const run = await registry.startRun({ experiment: 'e', name: 'x' });
    expect(vi.getTimerCount()).toBe(1);
    await registry.close();
    expect(vi.getTimerCount()).toBe(0);
    void run;
  });

  it('name the first top-level run their holder starts', async () => {
    const registry = await open(await backend.fresh());
    const release = await registry.acquireLock('model:m');
    expect((await registry.listLocks())[0]?.runId).toBeNull();
    const run = await registry.startRun({ experiment: 'e', name: 'optimize' });
    await registry.startRun({ experiment: 'e', name: 'trial-0', parentRunId: run.id });
    await registry.startRun({ experiment: 'e', name: 'later' });
    expect((await registry.listLocks())[0]?.runId).toBe(run.id);
    await release();
  });

  it('refuse a lease without length or a heartbeat slower than the lease', async () => {
    const file = await backend.fresh();
    await expect(open(file, { leaseMs: 0 })).rejects.toThrow(UsageError);
    await expect(open(file, { leaseMs: 1000, heartbeatMs: 1000 })).rejects.toThrow(
      /heartbeat must come more often than the lease lasts \(1000 ms\)/,
    );
  });

  it.skipIf(!canSpawnTs)('keep being renewed from their own thread while this one is blocked', async () => {
    const file = await backend.fresh();
    const holder = await open(file, { leaseMs: 2_000, heartbeatMs: 200 });
    const release = await holder.acquireLock('model:m');
    const run = await holder.startRun({ experiment: 'e', name: 'refit' });
    const lease = async () =>
      (
        await backend.exec(
          file,
          'SELECT (SELECT lease_expires_at FROM locks) AS lock, (SELECT lease_expires_at FROM runs) AS run',
        )
      )[0] as { lock: string; run: string };
    const first = await lease();
    // the thread is up once it has renewed
    await waitFor(async () => (await lease()).lock !== first.lock, 30_000);
    // a synchronous stretch two and a half leases long, like a refit that never yields
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5_000);
    const blockedUntil = Date.now();
    const after = await lease();
    expect(Date.parse(after.lock)).toBeGreaterThan(blockedUntil);
    expect(Date.parse(after.run)).toBeGreaterThan(blockedUntil);
    const other = await open(file, { hostname: 'elsewhere' });
    expect(await other.reapDeadRuns()).toBe(0);
    await expect(other.acquireLock('model:m')).rejects.toThrow(ConflictError);
    expect((await other.getRun(run.id)).status).toBe('RUNNING');
    await release();
  });

  // A SQLite file's write-ahead log only: not a test to show as skipped on PostgreSQL.
  if (backend.name === 'sqlite')
    it.skipIf(!canSpawnTs)(
      'end their thread before the registry closes, so the closing connection folds the WAL into the file',
      async () => {
        const file = await backend.fresh();
        const holder = await open(file, { leaseMs: 2_000, heartbeatMs: 100 });
        const run = await holder.startRun({ experiment: 'e', name: 'etl' });
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
        await holder.finishRun(run.id, { status: 'FINISHED' });
        await holder.acquireLock('model:m');
        await holder.close();
        expect(fs.existsSync(`${file}-wal`)).toBe(false);
        expect((await (await open(file)).getRun(run.id)).status).toBe('FINISHED');
      },
    );

  it.skipIf(!canSpawnTs)('never keep a process alive: a holder that returns exits', async () => {
    const body = `
      const registry = await openRegistry(argv[0], { leaseMs: 600_000 });
      await registry.acquireLock('model:m');
      await registry.startRun({ experiment: 'e', name: 'held' });
      process.stdout.write('held');`;
    const file = await backend.fresh();
    expect(await runInProcesses(body, () => [file], 1)).toEqual(['held']);
    expect(await (await open(file, { isPidAlive: alive })).listLocks()).toMatchObject([
      { name: 'model:m', stale: false },
    ]);
  });
});

describeBackends('breakLock', (backend) => {
  it('removes the lock and fails its RUNNING run, saying who broke it and why', async () => {
    const clock = fakeClock('2024-03-01T00:00:00.000Z');
    const file = await backend.fresh();
    const holder = await open(file, { pid: 7, hostname: 'box', isPidAlive: () => true, now: clock.now });
    const operator = await open(file, { pid: 8, hostname: 'ops', isPidAlive: () => true, now: clock.now });
    const release = await holder.acquireLock('model:m');
    const run = await holder.startRun({ experiment: 'e', name: 'retrain' });
    clock.advance(1_000);
    const trial = await holder.startRun({ experiment: 'e', name: 'trial-0', parentRunId: run.id });
    const done = await holder.startRun({ experiment: 'e', name: 'trial-1', parentRunId: run.id });
    await holder.finishRun(done.id, { status: 'FINISHED' });
    clock.advance(4_000);
    const broken = await operator.breakLock('model:m', { reason: 'container was killed' });
    expect(broken).toMatchObject({
      lock: { name: 'model:m', ownerPid: 7, hostname: 'box', runId: run.id, stale: false },
      runId: run.id,
      runFailed: true,
      note: 'lock model:m broken by operator on ops: container was killed',
    });
    expect(await operator.listLocks()).toEqual([]);
    const failed = await operator.getRun(run.id);
    expect(failed).toMatchObject({
      status: 'FAILED',
      error: 'lock model:m broken by operator on ops: container was killed',
      durationMs: 5_000,
    });
    expect(failed.tags.lock_broken).toBe(
      '2024-03-01T00:00:05.000Z lock model:m broken by operator on ops: container was killed',
    );
    // its trials end with it; finished ones stay as they were
    expect(await operator.getRun(trial.id)).toMatchObject({ status: 'FAILED', error: failed.error, durationMs: 4_000 });
    expect((await operator.getRun(done.id)).status).toBe('FINISHED');
    // the holder, if it still works, loses all it held and cannot finish its run as if nothing happened
    expect((await holder.heartbeat()).lost.sort()).toEqual([`lock model:m`, `run ${run.id}`, `run ${trial.id}`].sort());
    await expect(holder.finishRun(run.id, { status: 'FINISHED' })).rejects.toThrow(ConflictError);
    const mine = await operator.acquireLock('model:m');
    await release(); // the old holder's release leaves the new lock alone
    expect(await operator.listLocks()).toMatchObject([{ ownerPid: 8 }]);
    await mine();
  });

  it('tags a run that already ended, handles a lock without a run, and names a missing lock', async () => {
    const registry = await open(await backend.fresh());
    const release = await registry.acquireLock('model:m');
    const run = await registry.startRun({ experiment: 'e', name: 'optimize' });
    await registry.finishRun(run.id, { status: 'FINISHED' });
    expect(await registry.breakLock('model:m', { actor: 'ci' })).toMatchObject({
      runId: run.id,
      runFailed: false,
      note: 'lock model:m broken by ci',
    });
    expect(await registry.getRun(run.id)).toMatchObject({
      status: 'FINISHED',
      tags: { lock_broken: expect.stringMatching(/ lock model:m broken by ci$/) },
    });
    await release();

    await registry.acquireLock('etl');
    expect(await registry.breakLock('etl')).toMatchObject({ runId: null, runFailed: false });
    await expect(registry.breakLock('etl')).rejects.toThrow(NotFoundError);
    await expect(registry.breakLock('etl')).rejects.toThrow(
      "no lock named 'etl'; list the locks held now with 'rainops locks list'",
    );
  });
});
