import { describe, expect, it, vi } from 'vitest';
import { ConflictError } from '../../src/core/errors.js';
import { failActiveRuns, tracked } from '../../src/core/tracking.js';
import { fakeClock, open, tempDbPath } from '../registry/helpers.js';

const INPUT = { experiment: 'e', name: 'retrain' };

describe('tracked', () => {
  it('holds the run on a lease while the body works, and finishes it', async () => {
    const clock = fakeClock();
    const file = tempDbPath();
    const registry = await open(file, { now: clock.now, leaseMs: 10_000 });
    const other = await open(file, { now: clock.now, hostname: 'elsewhere' });
    let id = '';
    const out = await tracked(registry, INPUT, async (run) => {
      id = run.id;
      for (let i = 0; i < 3; i++) {
        clock.advance(9_000);
        expect(await registry.heartbeat()).toMatchObject({ runs: 1, lost: [] });
        expect(await other.reapDeadRuns()).toBe(0);
      }
      return 42;
    });
    expect(out).toBe(42);
    expect(await registry.getRun(id)).toMatchObject({
      status: 'FINISHED',
      durationMs: 27_000,
      cpuTimeMs: expect.any(Number),
    });
    expect(await registry.heartbeat()).toEqual({ runs: 0, locks: 0, lost: [] });
  });

  it('says so when another process failed the run while the body worked', async () => {
    const file = tempDbPath();
    const registry = await open(file);
    const operator = await open(file, { hostname: 'ops' });
    await registry.acquireLock('model:m');
    const run = tracked(registry, INPUT, async () => {
      await operator.breakLock('model:m', { reason: 'stuck' });
      return 'done';
    });
    await expect(run).rejects.toThrow(ConflictError);
    await expect(run).rejects.toThrow(
      /is already FAILED \(lock model:m broken by operator on ops: stuck\); only a RUNNING run can be finished/,
    );
  });

  it("rethrows the body's own error when the run had already been failed", async () => {
    const file = tempDbPath();
    const registry = await open(file);
    const operator = await open(file, { hostname: 'ops' });
    await registry.acquireLock('model:m');
    const boom = new Error('disk full');
    await expect(
      tracked(registry, INPUT, async () => {
        await operator.breakLock('model:m');
        throw boom;
      }),
    ).rejects.toBe(boom);
  });

  it('on a signal, fails what is still open and skips what another process already failed', async () => {
    const file = tempDbPath();
    const registry = await open(file);
    const operator = await open(file, { hostname: 'ops' });
    await registry.acquireLock('model:m');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ids: string[] = [];
    const outer = tracked(registry, INPUT, async (run) => {
      ids.push(run.id);
      await tracked(registry, { ...INPUT, name: 'trial-0', parentRunId: run.id }, async (trial) => {
        ids.push(trial.id);
        await gate;
      });
    });
    // both runs started: waited on, since each start is a few registry round trips
    await vi.waitFor(() => expect(ids).toHaveLength(2));
    // the operator fails the top run (and with it the trial); a signal then finds nothing left to fail
    await operator.breakLock('model:m');
    expect(await failActiveRuns('interrupted by SIGTERM')).toBe(0);
    expect(await registry.getRun(ids[1]!)).toMatchObject({
      status: 'FAILED',
      error: expect.stringMatching(/^lock model:m broken by operator on ops$/),
    });
    release();
    await expect(outer).rejects.toThrow(ConflictError);
  });
});
