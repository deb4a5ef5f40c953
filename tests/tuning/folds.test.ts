import { describe, expect, it } from 'vitest';
import { foldIndices, stratifiedFolds } from '../../src/core/tuning/folds.js';

/** 1,000 rows, 23% positive, in runs (as a sorted file would have them). */
const y = Float32Array.from({ length: 1000 }, (_, i) => (i < 230 ? 1 : 0));

describe('stratifiedFolds', () => {
  it.each([2, 3, 5, 7])('gives each of %i folds the same share of each class, within one row', (k) => {
    const fold = stratifiedFolds(y, k, 42);
    for (const label of [0, 1]) {
      const sizes = Array.from({ length: k }, (_, f) => fold.filter((v, i) => v === f && y[i] === label).length);
      expect(sizes.reduce((a, b) => a + b)).toBe(label === 1 ? 230 : 770);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    const totals = Array.from({ length: k }, (_, f) => fold.filter((v) => v === f).length);
    expect(Math.max(...totals) - Math.min(...totals)).toBeLessThanOrEqual(1);
  });

  it('is the same for the same seed and shuffles differently for another', () => {
    expect(stratifiedFolds(y, 5, 42)).toEqual(stratifiedFolds(y, 5, 42));
    expect(stratifiedFolds(y, 5, 43)).not.toEqual(stratifiedFolds(y, 5, 42));
  });

  it('shuffles rows across folds rather than cutting the file into blocks', () => {
    const fold = stratifiedFolds(y, 5, 42);
    // The first 100 positives land in every fold, not in one or two.
    expect(new Set(fold.subarray(0, 100)).size).toBe(5);
  });
});

describe('foldIndices', () => {
  it('splits the rows into disjoint train and held-out sets that together cover every row once', () => {
    const k = 4;
    const fold = stratifiedFolds(y, k, 7);
    const heldOut = new Uint8Array(y.length);
    for (let f = 0; f < k; f++) {
      const { train, valid } = foldIndices(fold, f);
      expect(train.length + valid.length).toBe(y.length);
      const inValid = new Set(valid);
      expect(Array.from(train).some((i) => inValid.has(i))).toBe(false);
      expect(Array.from(valid).every((i) => fold[i] === f)).toBe(true);
      // Ascending order: the matrix rows are read front to back.
      expect(Array.from(train)).toEqual(Array.from(train).sort((a, b) => a - b));
      for (const i of valid) heldOut[i]!++;
    }
    expect(heldOut.every((n) => n === 1)).toBe(true);
  });
});
