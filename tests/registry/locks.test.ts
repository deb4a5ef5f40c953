import { describe, expect, it } from 'vitest';
import { ConflictError, UsageError } from '../../src/core/errors.js';
import { open, tempDbPath } from './helpers.js';

const RUN = 'ab'.repeat(16);

describe('locks', () => {
  it('keep a second holder out until released', async () => {
    const file = tempDbPath();
    const a = open(file, { pid: 10, hostname: 'h', isPidAlive: () => true });
    const b = open(file, { pid: 20, hostname: 'h', isPidAlive: () => true });
    const release = await a.acquireLock('pipeline', { runId: RUN });
    expect(a.listLocks()).toEqual([
      { name: 'pipeline', ownerPid: 10, hostname: 'h', runId: RUN, acquiredAt: expect.any(String) },
    ]);
    await expect(b.acquireLock('pipeline')).rejects.toThrow(ConflictError);
    await expect(b.acquireLock('pipeline')).rejects.toThrow(
      new RegExp(`lock 'pipeline' is still held by run ${RUN}, pid 10 on host h \\(since .*\\); another rainops command is working`),
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
