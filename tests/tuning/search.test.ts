import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXPERIMENT } from '../../src/core/context.js';
import { loadEngine } from '../../src/core/models/engine.js';
import type { XgbParamsInput } from '../../src/core/models/params.js';
import type { FoldResult, FoldTask } from '../../src/core/tuning/fit-fold.js';
import { stratifiedFolds } from '../../src/core/tuning/folds.js';
import { createFoldPool } from '../../src/core/tuning/pool.js';
import type { FoldPool } from '../../src/core/tuning/pool.js';
import { runSearch } from '../../src/core/tuning/search.js';
import type { SearchInput, SearchProgress, TrialResult } from '../../src/core/tuning/search.js';
import { openRegistry } from '../../src/registry/index.js';
import type { Registry } from '../../src/registry/index.js';
import { EXIT_3, UNCAUGHT, toyData } from './helpers.js';

const { X, y } = toyData(240, 11);
const K = 3;
const fold = stratifiedFolds(y, K, 5);

let dir: string;
let registry: Registry;
let parentRunId: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rainops-search-'));
  registry = await openRegistry(join(dir, 'registry.db'));
  parentRunId = (await registry.startRun({ experiment: EXPERIMENT, name: 'optimize' })).id;
});
afterEach(async () => {
  await registry.close();
  rmSync(dir, { recursive: true, force: true });
});

const search = (pool: FoldPool, candidates: XgbParamsInput[], more: Partial<SearchInput> = {}) =>
  runSearch({ registry, parentRunId, candidates, y, fold, k: K, metric: 'f1', earlyStoppingRounds: 10, pool, ...more });
const trialRuns = async () =>
  (await registry.listRuns({ parentRunId })).sort((a, b) => Number(a.tags.trial) - Number(b.tags.trial));

/** A pool that fits nothing: each held-out row gets its label blurred by the candidate's learning rate. */
function fakePool(): FoldPool & { calls: FoldTask[] } {
  const calls: FoldTask[] = [];
  return {
    jobs: 1,
    calls,
    run: async (task) => {
      calls.push(task);
      const blur = Number(task.params.learningRate ?? 0.3);
      const predictions = Float32Array.from(task.valid, (i, j) => (y[i] === 1 ? 1 - blur : blur) + (j % 7) / 100);
      return { predictions, bestIteration: 4, roundsTrained: 9, ms: 1 } satisfies FoldResult;
    },
    close: async () => undefined,
  };
}

describe('runSearch', () => {
  it('cross-validates every candidate into out-of-fold predictions for every row, as child runs', async () => {
    const pool = fakePool();
    const progress: SearchProgress[] = [];
    // 0.55 puts the negatives above the positives: the worse candidate.
    const trials = await search(pool, [{ learningRate: 0.55 }, { learningRate: 0.1 }], {
      onProgress: (p) => progress.push(p),
    });
    expect(trials.map((t) => t.index)).toEqual([0, 1]);
    expect(pool.calls).toHaveLength(2 * K);
    // Each fold's held-out rows are disjoint and together cover every row once.
    const seen = new Uint8Array(y.length);
    for (const c of pool.calls.slice(0, K)) for (const i of c.valid) seen[i]!++;
    expect(seen.every((n) => n === 1)).toBe(true);
    expect(trials[1]!.oof[0]).toBeCloseTo(y[0] === 1 ? 0.9 : 0.1, 1);
    expect(trials[1]!.score).toBeGreaterThan(trials[0]!.score);
    expect(trials[1]!.foldTrees).toEqual([5, 5, 5]);
    expect((await trialRuns()).map((r) => [r.name, r.status, r.metrics.cv_score])).toEqual([
      ['trial-0', 'FINISHED', trials[0]!.score],
      ['trial-1', 'FINISHED', trials[1]!.score],
    ]);
    expect(progress.map((p) => [p.done, p.total, p.failed])).toEqual([
      [0, 2, 0],
      [1, 2, 0],
      [2, 2, 0],
    ]);
  });

  it('reuses the finished trials of a resumed search instead of training them again', async () => {
    const pool = fakePool();
    const first = await search(pool, [{ learningRate: 0.4 }, { learningRate: 0.1 }, { learningRate: 0.2 }]);
    const finished = new Map<number, TrialResult>([
      [0, first[0]!],
      [2, first[2]!],
    ]);
    const again = fakePool();
    const resumed = await search(again, [{ learningRate: 0.4 }, { learningRate: 0.1 }, { learningRate: 0.2 }], {
      finished,
    });
    expect(again.calls.map((c) => c.params.learningRate)).toEqual([0.1, 0.1, 0.1]);
    expect(resumed.map((t) => t.index)).toEqual([0, 1, 2]);
    expect(resumed[0]).toBe(first[0]);
    expect(resumed[2]).toBe(first[2]);
    expect(resumed[1]!.score).toBe(first[1]!.score);
  });

  it('runs no trial once the deadline has passed', async () => {
    const pool = fakePool();
    const trials = await search(pool, [{ learningRate: 0.4 }], { deadline: Date.now() - 1 });
    expect(trials).toEqual([]);
    expect(pool.calls).toEqual([]);
  });
});

describe('runSearch on workers that crash', () => {
  let pool: FoldPool;
  beforeAll(async () => {
    pool = await createFoldPool(X, y, await loadEngine('wasm'), 2, {
      worker: new URL('./crashing-fold-worker.ts', import.meta.url),
    });
  });
  afterAll(async () => pool.close());

  const ok = (seed: number): XgbParamsInput => ({ maxDepth: 2, nEstimators: 5, seed });

  it('fails only the trials whose worker crashed or whose fit failed, with the reason, and goes on', async () => {
    const progress: SearchProgress[] = [];
    const candidates = [ok(1), ok(EXIT_3), ok(2), ok(UNCAUGHT), { ...ok(3), maxDepth: -1 }, ok(4)];
    const trials = await search(pool, candidates, { onProgress: (p) => progress.push(p) });
    expect(trials.map((t) => t.index)).toEqual([0, 2, 5]);
    const runs = await trialRuns();
    expect(runs.map((r) => r.status)).toEqual(['FINISHED', 'FAILED', 'FINISHED', 'FAILED', 'FAILED', 'FINISHED']);
    expect(runs[1]!.error).toMatch(/a training worker crashed during a fold fit \(worker exited with code: 3\)/);
    expect(runs[3]!.error).toMatch(/a training worker crashed during a fold fit \(the engine blew up\)/);
    expect(runs[4]!.error).toMatch(/a fold failed to train: .*max_depth/);
    expect((await registry.getRun(parentRunId)).metrics.trials_failed).toBe(3);
    expect(progress.at(-1)).toMatchObject({ done: 6, total: 6, failed: 3 });
    expect(
      progress
        .filter((p) => p.lastFailure)
        .map((p) => p.lastFailure!.index)
        .sort(),
    ).toEqual([1, 3, 4]);
  });

  it('says why when every trial failed', async () => {
    await expect(search(pool, [ok(EXIT_3), ok(UNCAUGHT)])).rejects.toThrow(
      /every trial failed \(2 of 2\); trial 0: a training worker crashed .*code: 3/,
    );
  });
});
