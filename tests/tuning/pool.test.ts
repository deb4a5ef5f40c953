import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RainopsError } from '../../src/core/errors.js';
import { loadEngine } from '../../src/core/models/engine.js';
import type { XgbEngine } from '../../src/core/models/engine.js';
import { foldIndices, stratifiedFolds } from '../../src/core/tuning/folds.js';
import { createFoldPool } from '../../src/core/tuning/pool.js';
import type { FoldPool } from '../../src/core/tuning/pool.js';
import { EXIT_3, QUIET_EXIT, UNCAUGHT, toyData } from './helpers.js';

const CRASHING = new URL('./crashing-fold-worker.ts', import.meta.url);
const { X, y } = toyData(240, 7);
const { train, valid } = foldIndices(stratifiedFolds(y, 3, 1), 0);
const task = (seed: number) => ({
  params: { maxDepth: 2, nEstimators: 5, seed },
  train,
  valid,
  earlyStoppingRounds: 10,
});

let engine: XgbEngine;
let pool: FoldPool;
beforeAll(async () => {
  engine = await loadEngine('wasm');
  pool = await createFoldPool(X, y, engine, 2, { worker: CRASHING });
});
afterAll(() => pool.close());

describe('createFoldPool', () => {
  it('fits folds on worker threads exactly as in this thread', async () => {
    const inline = await createFoldPool(X, y, engine, 1);
    const [here, there] = await Promise.all([inline.run(task(1)), pool.run(task(1))]);
    expect(there.predictions).toHaveLength(valid.length);
    expect(Array.from(there.predictions)).toEqual(Array.from(here.predictions));
  });

  it.each([
    ['exits quietly', QUIET_EXIT, /exited with code: 0/],
    ['exits with a code', EXIT_3, /exited with code: 3/],
    ['throws outside any task', UNCAUGHT, /the engine blew up/],
  ])('fails only the fold whose worker %s, then serves the next folds on a new worker', async (_, seed, why) => {
    const [crashed, ...others] = await Promise.allSettled([pool.run(task(seed)), pool.run(task(2)), pool.run(task(3))]);
    expect(crashed.status).toBe('rejected');
    const err = (crashed as PromiseRejectedResult).reason as Error;
    expect(err).toBeInstanceOf(RainopsError);
    expect(err.message).toMatch(/a training worker crashed during a fold fit/);
    expect(err.message).toMatch(why);
    expect(others.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
    // Both workers serve again after the crash.
    const after = await Promise.all([pool.run(task(4)), pool.run(task(5)), pool.run(task(6))]);
    expect(after.map((r) => r.predictions.length)).toEqual([valid.length, valid.length, valid.length]);
  });

  it('reports a fit that fails inside a healthy worker as a failed fold, not a crash', async () => {
    const bad = { ...task(1), params: { maxDepth: -1 } };
    await expect(pool.run(bad)).rejects.toThrow(/a fold failed to train: .*max_depth/);
    await expect(pool.run(task(1))).resolves.toMatchObject({ predictions: expect.any(Float32Array) });
  });
});

describe('a pool whose workers cannot start', () => {
  it('fails waiting and later folds instead of leaving them queued forever', async () => {
    const dead = await createFoldPool(X, y, engine, 2, { worker: new URL('./dead-fold-worker.ts', import.meta.url) });
    try {
      const first = await Promise.allSettled([dead.run(task(1)), dead.run(task(2)), dead.run(task(3))]);
      expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
      await expect(dead.run(task(4))).rejects.toThrow(/training workers stopped while starting .*--jobs 1/);
    } finally {
      await dead.close();
    }
  });
});
