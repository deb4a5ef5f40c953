import { describe, expect, it } from 'vitest';
import { IntegrityError, UsageError } from '../../src/core/errors.js';
import { matrixFromRows } from '../../src/core/models/matrix.js';
import { compileEnsemble, sigmoid, truncateEnsemble, validateEnsemble } from '../../src/core/models/trees.js';
import type { TreeEnsemble } from '../../src/core/models/trees.js';

const threshold = Math.fround(0.1);

/** Two trees: a split on x0 < fround(0.1) (missing goes right), then a split on x1 < 2 (missing goes left). */
function sample(): TreeEnsemble {
  return {
    kind: 'tree-ensemble',
    version: 1,
    objective: 'binary:logistic',
    baseMargin: 0.25,
    featureNames: ['x0', 'x1'],
    trees: [
      {
        left: [1, -1, -1],
        right: [2, -1, -1],
        feature: [0, -1, -1],
        threshold: [threshold, 0, 0],
        defaultLeft: [0, 0, 0],
        value: [0, -1, 1],
        gain: [5, 0, 0],
        cover: [10, 4, 6],
      },
      {
        left: [1, -1, -1],
        right: [2, -1, -1],
        feature: [1, -1, -1],
        threshold: [2, 0, 0],
        defaultLeft: [1, 0, 0],
        value: [0, 0.5, -0.5],
        gain: [3, 0, 0],
        cover: [10, 5, 5],
      },
    ],
  };
}

describe('compileEnsemble', () => {
  const c = compileEnsemble(sample());

  it('sums leaves on the base margin and applies the logistic', () => {
    expect(c.predictMargin([0, 0])).toBeCloseTo(0.25 - 1 + 0.5, 6);
    expect(c.predictProba([1, 3])).toBeCloseTo(sigmoid(0.25 + 1 - 0.5), 6);
  });

  it('compares the value rounded to float32, as XGBoost does', () => {
    // 0.1 as a double is below fround(0.1), but XGBoost sees fround(0.1): not below the threshold
    expect(0.1 < threshold).toBe(true);
    expect(c.predictMargin([0.1, 3])).toBeCloseTo(0.25 + 1 - 0.5, 6);
    expect(c.predictMargin([0.09999999, 3])).toBeCloseTo(0.25 - 1 - 0.5, 6);
  });

  it('sends missing values the default way', () => {
    expect(c.predictMargin([Number.NaN, Number.NaN])).toBeCloseTo(0.25 + 1 + 0.5, 6);
  });

  it('scores a matrix like single rows, for Float64Array rows too', () => {
    const X = matrixFromRows([
      [0, 0],
      [1, 3],
      [Number.NaN, 1],
      [0.1, Number.NaN],
    ]);
    const p = c.predictMatrix(X);
    for (let i = 0; i < X.rows; i++) {
      expect(p[i]).toBe(c.predictProba(X.data.subarray(i * 2, i * 2 + 2)));
      expect(p[i]).toBe(c.predictProba(Float64Array.from(X.data.subarray(i * 2, i * 2 + 2))));
    }
  });

  it('accumulates float32 margins tree by tree', () => {
    const X = matrixFromRows([
      [0, 0],
      [1, 3],
    ]);
    const margins = new Float32Array(2).fill(0.25);
    const seen: number[] = [];
    c.accumulateMargins(X, margins, 0, 2, (t) => seen.push(t));
    expect(seen).toEqual([0, 1]);
    expect(margins[0]).toBeCloseTo(c.predictMargin([0, 0]), 6);
  });

  it('rejects rows of the wrong width', () => {
    expect(() => c.predictProba([1])).toThrow(UsageError);
    expect(() => c.predictMatrix(matrixFromRows([[1, 2, 3]]))).toThrow(UsageError);
  });
});

describe('truncateEnsemble', () => {
  it('keeps the first trees', () => {
    const te = truncateEnsemble(sample(), 1);
    expect(te.trees).toHaveLength(1);
    expect(compileEnsemble(te).predictMargin([0, 0])).toBeCloseTo(-0.75, 6);
    expect(() => truncateEnsemble(sample(), 3)).toThrow(UsageError);
  });
});

describe('validateEnsemble', () => {
  it('accepts a well-formed ensemble and its JSON round trip', () => {
    const te = sample();
    expect(validateEnsemble(JSON.parse(JSON.stringify(te)))).toEqual(te);
  });

  it.each([
    ['a wrong kind', (te: TreeEnsemble) => Object.assign(te, { kind: 'forest' }), /kind/],
    ['a child pointing backwards', (te: TreeEnsemble) => (te.trees[0]!.left[0] = 0), /child 0/],
    ['an unknown feature', (te: TreeEnsemble) => (te.trees[1]!.feature[0] = 2), /feature 2/],
    ['a threshold that is not a float32', (te: TreeEnsemble) => (te.trees[0]!.threshold[0] = 0.1), /float32/],
    ['arrays of different lengths', (te: TreeEnsemble) => te.trees[0]!.value.pop(), /value/],
    ['a non-finite leaf', (te: TreeEnsemble) => (te.trees[0]!.value[1] = Number.NaN), /not finite/],
  ])('rejects %s', (_, spoil, message) => {
    const te = sample();
    spoil(te);
    expect(() => validateEnsemble(te)).toThrow(IntegrityError);
    expect(() => validateEnsemble(te)).toThrow(message);
  });
});
