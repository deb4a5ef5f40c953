import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { XgbEngine } from '../../src/core/models/engine.js';
import { stratifiedFolds } from '../../src/core/tuning/folds.js';
import { createFoldPool } from '../../src/core/tuning/pool.js';
import { runSearch, trialsInFlight } from '../../src/core/tuning/search.js';
import type { SearchProgress } from '../../src/core/tuning/search.js';
import { openRegistry } from '../../src/registry/index.js';
import { tempDir } from '../helpers/cli.js';

/** An engine whose fits take a few turns of the event loop and that counts how many run at once. */
function countingEngine() {
  const state = { running: 0, most: 0, fits: 0 };
  const engine = {
    name: 'wasm',
    async train() {
      state.running++;
      state.most = Math.max(state.most, state.running);
      state.fits++;
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      state.running--;
      return {
        bestIteration: 4,
        roundsTrained: 5,
        predict: (X: { rows: number }) => new Float32Array(X.rows).fill(0.3),
        free: () => undefined,
      };
    },
  } as unknown as XgbEngine;
  return { engine, state };
}

const X = { rows: 40, cols: 2, data: new Float32Array(80).map((_, i) => i % 7) };
const y = new Float32Array(40).map((_, i) => (i % 3 === 0 ? 1 : 0));

describe('search progress tells the truth', () => {
  const dirs: string[] = [];
  afterEach(async () => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('one job fits one fold at a time, however many are queued', async () => {
    const { engine, state } = countingEngine();
    const pool = await createFoldPool(X, y, engine, 1);
    const task = {
      params: { nEstimators: 5 },
      train: Uint32Array.from({ length: 30 }, (_, i) => i),
      valid: Uint32Array.from({ length: 10 }, (_, i) => 30 + i),
      earlyStoppingRounds: 10,
    };
    const results = await Promise.all([pool.run(task), pool.run(task), pool.run(task)]);
    expect(state.fits).toBe(3);
    expect(state.most).toBe(1);
    expect(results.every((r) => r.predictions.length === 10)).toBe(true);
  });

  it('with one job, trials run one after another and their times add up to no more than the search took', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const registry = await openRegistry(join(dir, 'registry.db'));
    try {
      const { engine, state } = countingEngine();
      const pool = await createFoldPool(X, y, engine, 1);
      const parent = (await registry.startRun({ experiment: 'Rain Dataset', name: 'optimize' })).id;
      const events: SearchProgress[] = [];
      const t0 = performance.now();
      const trials = await runSearch({
        registry,
        parentRunId: parent,
        candidates: [
          { maxDepth: 2, nEstimators: 5 },
          { maxDepth: 3, nEstimators: 5 },
          { maxDepth: 4, nEstimators: 5 },
        ],
        y,
        fold: stratifiedFolds(y, 2, 1),
        k: 2,
        metric: 'f1',
        earlyStoppingRounds: 10,
        pool,
        onProgress: (p) => events.push(p),
      });
      const elapsed = performance.now() - t0;
      expect(trials).toHaveLength(3);
      expect(state.most).toBe(1);
      const times = events.flatMap((e) => (e.last ? [e.last.ms] : []));
      expect(times).toHaveLength(3);
      expect(times.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(Math.ceil(elapsed) + 3);
      // The trial runs themselves do not overlap: each starts once the one before has ended.
      const runs = await registry.listRuns({ parentRunId: parent, sort: 'start_time' });
      for (let i = 1; i < runs.length; i++) expect(runs[i]!.startTime >= runs[i - 1]!.endTime!).toBe(true);
      // Trials are recorded under XGBoost's names, as given in any spelling.
      expect(runs.map((r) => r.params.max_depth)).toEqual(['2', '3', '4']);
      expect(runs.every((r) => r.params.maxDepth === undefined && r.params.n_estimators === '5')).toBe(true);
    } finally {
      await registry.close();
    }
  });

  it('keeps several trials in flight only when there are workers to fill', async () => {
    expect(trialsInFlight(1, 5)).toBe(1);
    expect(trialsInFlight(2, 5)).toBe(2);
    expect(trialsInFlight(8, 3)).toBe(4);
  });
});
