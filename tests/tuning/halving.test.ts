import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXPERIMENT } from '../../src/core/context.js';
import type { FoldResult, FoldTask } from '../../src/core/tuning/fit-fold.js';
import { foldIndices, stratifiedFolds } from '../../src/core/tuning/folds.js';
import {
  advance,
  budgetLabel,
  chooseSearch,
  describeSchedule,
  fullCost,
  HALVING_MIN_ROWS,
  halvingSchedule,
  runHalving,
  rungRounds,
} from '../../src/core/tuning/halving.js';
import { nestedStratifiedOrder } from '../../src/core/tuning/halving-sample.js';
import type { FoldPool } from '../../src/core/tuning/pool.js';
import { openRegistry } from '../../src/registry/index.js';
import type { Registry } from '../../src/registry/index.js';
import { toyData } from './helpers.js';

const rungs = (n: number, eta: number, min: number) =>
  halvingSchedule(n, eta, min).map((r) => [r.candidates, budgetLabel(r.budget), r.full]);

describe('halvingSchedule', () => {
  it('keeps floor(n / eta) candidates per rung on eta times the rows, then cross-validates the rest in full', () => {
    expect(rungs(9, 3, 1 / 27)).toEqual([
      [9, '1/27', false],
      [3, '1/9', false],
      [1, '1', true],
    ]);
    expect(rungs(6, 3, 1 / 27)).toEqual([
      [6, '1/27', false],
      [2, '1/9', false],
      [1, '1', true],
    ]);
    expect(rungs(10, 3, 1 / 9)).toEqual([
      [10, '1/9', false],
      [3, '1/3', false],
      [1, '1', true],
    ]);
    expect(rungs(16, 2, 1 / 8)).toEqual([
      [16, '1/8', false],
      [8, '1/4', false],
      [4, '1/2', false],
      [2, '1', true],
    ]);
  });

  it('stops early when the budget reaches all rows, or when one candidate is left', () => {
    // The budget runs out first: three candidates are cross-validated in full.
    expect(rungs(27, 3, 1 / 9)).toEqual([
      [27, '1/9', false],
      [9, '1/3', false],
      [3, '1', true],
    ]);
    expect(rungs(1, 3, 1 / 27)).toEqual([[1, '1', true]]);
    expect(rungs(5, 3, 1)).toEqual([[5, '1', true]]);
    expect(describeSchedule(halvingSchedule(9, 3, 1 / 27))).toBe(
      '9 candidates on 1/27 of the rows, 3 on 1/9, then 1 cross-validated in full',
    );
  });

  it('refuses settings that cannot halve', () => {
    expect(() => halvingSchedule(0, 3, 0.1)).toThrow(/at least 1 candidate/);
    expect(() => halvingSchedule(9, 1, 0.1)).toThrow(/eta >= 2/);
    expect(() => halvingSchedule(9, 3, 0)).toThrow(/budget/);
  });
});

describe('advance', () => {
  const s = (index: number, score: number, cost = 100) => ({ index, score, cost });

  it('keeps the best scores, breaking exact ties by the lower candidate number', () => {
    const scored = [s(0, 0.61), s(1, 0.7), s(2, 0.65), s(3, 0.7), s(4, 0.69), s(5, 0.5)];
    expect(advance(scored, 2, 0)).toEqual([1, 3]);
    expect(advance(scored, 3, 0)).toEqual([1, 3, 4]);
    // The input order does not matter.
    expect(advance([...scored].reverse(), 3, 0)).toEqual([1, 3, 4]);
  });

  it('never advances a failed candidate, even when fewer are left than asked for', () => {
    expect(advance([s(0, Number.NaN, Infinity), s(1, 0.2), s(2, 0.3)], 3, 0)).toEqual([2, 1]);
    expect(advance([s(0, Number.NaN, Infinity)], 1, 0)).toEqual([]);
  });

  it('among scores within the tie of the best left, takes the cheaper fit first', () => {
    // 1 and 2 are within 0.002 of each other; 2 cost half as much. 0 is clearly worse.
    const scored = [s(0, 0.64), s(1, 0.658, 2000), s(2, 0.6575, 1000)];
    expect(advance(scored, 1)).toEqual([2]);
    expect(advance(scored, 2)).toEqual([2, 1]);
    // Outside the tie the score decides, whatever the cost.
    expect(advance([s(0, 0.64, 1), s(1, 0.66, 5000)], 1)).toEqual([1]);
    // Equal score and cost: the lower number.
    expect(advance([s(4, 0.6, 10), s(2, 0.6, 10)], 1)).toEqual([2]);
  });
});

describe('the budget of a partial rung', () => {
  it('caps boosting rounds at the same share of n_estimators, at least one', () => {
    expect(rungRounds({ nEstimators: 1000 }, 1 / 27)).toBe(38);
    expect(rungRounds({ nEstimators: 1000 }, 1 / 9)).toBe(112);
    expect(rungRounds({ nEstimators: 90 }, 1 / 3)).toBe(30);
    expect(rungRounds({}, 1 / 3)).toBe(34);
    expect(rungRounds({ nEstimators: 10 }, 1 / 81)).toBe(1);
  });

  it('expects deeper trees and slower learning rates to cost more in full', () => {
    expect(fullCost({ maxDepth: 6, learningRate: 0.1 })).toBeCloseTo(60, 9);
    expect(fullCost({ maxDepth: 5, learningRate: 0.0686 })).toBeGreaterThan(
      fullCost({ maxDepth: 6, learningRate: 0.0934 }),
    );
  });
});

describe('nestedStratifiedOrder', () => {
  const { y } = toyData(600, 3);
  const rows = Uint32Array.from({ length: 500 }, (_, i) => i + 50);

  it('orders the given rows so that every prefix keeps the share of positives', () => {
    const order = nestedStratifiedOrder(y, rows, 42);
    expect([...order].sort((a, b) => a - b)).toEqual([...rows]);
    const positives = rows.reduce((n, r) => n + (y[r] === 1 ? 1 : 0), 0);
    for (const size of [20, 60, 185, 500]) {
      const got = order.subarray(0, size).reduce((n, r) => n + (y[r] === 1 ? 1 : 0), 0);
      expect(Math.abs(got - (size * positives) / rows.length)).toBeLessThanOrEqual(1);
    }
  });

  it('is the same for the same seed and differs for another', () => {
    expect(nestedStratifiedOrder(y, rows, 42)).toEqual(nestedStratifiedOrder(y, rows, 42));
    expect(nestedStratifiedOrder(y, rows, 43)).not.toEqual(nestedStratifiedOrder(y, rows, 42));
  });
});

describe('chooseSearch', () => {
  it('takes the grid up to the documented size and halving above it, unless told', () => {
    expect(chooseSearch('auto', HALVING_MIN_ROWS)).toBe('grid');
    expect(chooseSearch('auto', HALVING_MIN_ROWS + 1)).toBe('halving');
    expect(chooseSearch('random', 10 * HALVING_MIN_ROWS)).toBe('random');
    expect(chooseSearch('halving', 10)).toBe('halving');
  });
});

describe('runHalving', () => {
  const { y } = toyData(600, 7);
  const K = 3;
  const fold = stratifiedFolds(y, K, 5);
  let dir: string;
  let registry: Registry;
  let parentRunId: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rainops-halving-'));
    registry = await openRegistry(join(dir, 'registry.db'));
    parentRunId = (await registry.startRun({ experiment: EXPERIMENT, name: 'optimize' })).id;
  });
  afterEach(async () => {
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Fits nothing: a candidate with learning rate r gets the label of r * 100 in every 100 held-out rows wrong. */
  function fakePool(): FoldPool & { calls: FoldTask[] } {
    const calls: FoldTask[] = [];
    return {
      jobs: 1,
      calls,
      run: async (task) => {
        calls.push(task);
        const wrong = Math.round(Number(task.params.learningRate) * 100);
        const predictions = Float32Array.from(task.valid, (i, j) =>
          (j % 100 < wrong ? 1 - y[i]! : y[i]!) ? 0.8 : 0.2,
        );
        return { predictions, bestIteration: 9, roundsTrained: 19, ms: 1 } satisfies FoldResult;
      },
      close: async () => undefined,
    };
  }

  it('trains every candidate on the smallest share, advances the best 1/eta, cross-validates the survivor', async () => {
    const pool = fakePool();
    // Candidate 7 makes the fewest mistakes, then 2, then 4.
    const rates = [0.3, 0.25, 0.05, 0.2, 0.1, 0.35, 0.4, 0.01, 0.45];
    const lines: string[] = [];
    const trials = await runHalving({
      registry,
      parentRunId,
      candidates: rates.map((learningRate) => ({ learningRate, maxDepth: 3 })),
      y,
      fold,
      k: K,
      metric: 'f1',
      earlyStoppingRounds: 10,
      pool,
      eta: 3,
      minBudget: 1 / 9,
      seed: 42,
      onRung: (line) => lines.push(line),
    });
    expect(trials.map((t) => t.index)).toEqual([7]);
    // 9 fits at rung 0, 3 at rung 1, then K folds.
    expect(pool.calls).toHaveLength(9 + 3 + K);
    const trainPart = foldIndices(fold, 0).train.length;
    expect(pool.calls[0]!.train.length).toBe(Math.ceil(trainPart / 9));
    // XGBoost's default 100 rounds, cut to the rung's share; the full cross-validation leaves the candidate as it is.
    expect(pool.calls.map((c) => c.params.nEstimators)).toEqual([
      ...Array(9).fill(12),
      34,
      34,
      34,
      undefined,
      undefined,
      undefined,
    ]);
    expect(pool.calls[9]!.train.length).toBe(Math.ceil(trainPart / 3));
    // The rungs' rows are nested and never include the rows they are scored on.
    expect([...pool.calls[0]!.train].every((r) => pool.calls[9]!.train.includes(r))).toBe(true);
    expect([...pool.calls[9]!.train].some((r) => fold[r] === 0)).toBe(false);
    expect(pool.calls[9]!.valid).toEqual(foldIndices(fold, 0).valid);

    const runs = await registry.listRuns({ parentRunId });
    const byRung = (rung: string) =>
      runs
        .filter((r) => r.tags.rung === rung)
        .map((r) => Number(r.tags.trial))
        .sort((a, b) => a - b);
    expect(byRung('0')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(byRung('1')).toEqual([2, 4, 7]);
    expect(byRung('2')).toEqual([7]);
    const last = runs.find((r) => r.tags.rung === '2')!;
    expect(last).toMatchObject({ name: 'trial-7', status: 'FINISHED', tags: { budget: '1', trial: '7' } });
    expect(last.metrics.cv_f1).toBe(trials[0]!.cv.f1);
    const first = runs.find((r) => r.name === 'trial-2-rung-1')!;
    expect(first.tags.budget).toBe('1/3');
    expect(first.params).toMatchObject({ rung: '1', trial: '2', rows: String(Math.ceil(trainPart / 3)) });
    expect(first.metrics.rung_trees).toBe(10);
    expect(lines[0]).toBe('halving: 9 candidates on 1/9 of the rows, 3 on 1/3, then 1 cross-validated in full');
    expect(lines[1]).toMatch(/^rung 0: 9 candidates on \d+ rows .*; trials 7, 2, 4 go on$/);
  });

  it('leaves a candidate whose fit fails behind and goes on with the others', async () => {
    const pool = fakePool();
    const failing: FoldPool = {
      ...pool,
      run: async (task) => {
        if (task.params.learningRate === 0.01) throw new Error('engine exploded');
        return pool.run(task);
      },
    };
    const trials = await runHalving({
      registry,
      parentRunId,
      candidates: [0.3, 0.01, 0.05].map((learningRate) => ({ learningRate })),
      y,
      fold,
      k: K,
      metric: 'f1',
      earlyStoppingRounds: 10,
      pool: failing,
      eta: 3,
      minBudget: 1 / 3,
      seed: 1,
    });
    expect(trials.map((t) => t.index)).toEqual([2]);
    const failed = (await registry.listRuns({ parentRunId })).filter((r) => r.status === 'FAILED');
    expect(failed.map((r) => r.name)).toEqual(['trial-1-rung-0']);
  });
});
