import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { parseXgbParams, xgbParamPairs, xgbParamRecord } from '../../src/core/models/params.js';

describe('parseXgbParams', () => {
  it('fills XGBoost defaults', () => {
    expect(parseXgbParams({})).toEqual({
      maxDepth: 6,
      learningRate: 0.3,
      nEstimators: 100,
      minChildWeight: 1,
      subsample: 1,
      colsampleBytree: 1,
      lambda: 1,
      alpha: 0,
      gamma: 0,
      scalePosWeight: 1,
      seed: 0,
    });
  });

  it('accepts XGBoost and scikit-learn names', () => {
    const p = parseXgbParams({
      max_depth: 4,
      learning_rate: 0.1,
      n_estimators: 300,
      reg_lambda: 2,
      random_state: 42,
      n_jobs: 2,
    });
    expect(p).toMatchObject({ maxDepth: 4, learningRate: 0.1, nEstimators: 300, lambda: 2, seed: 42, nthread: 2 });
    expect(parseXgbParams({ eta: 0.05 }).learningRate).toBe(0.05);
  });

  it.each([
    [{ maxDepth: 0 }, /max_depth must be a whole number from 1 to 16 \(got 0\)/],
    [{ maxDepth: 3.5 }, /max_depth must be a whole number/],
    [{ learningRate: 0 }, /learning_rate must be greater than 0 and at most 1/],
    [{ learningRate: 1.5 }, /learning_rate must be greater than 0 and at most 1 \(got 1.5\)/],
    [{ subsample: -0.1 }, /subsample must be greater than 0/],
    [{ colsampleBytree: 2 }, /colsample_bytree/],
    [{ nEstimators: 0 }, /n_estimators must be a whole number from 1/],
    [{ minChildWeight: -1 }, /min_child_weight must be 0 or more/],
    [{ scalePosWeight: 0 }, /scale_pos_weight must be greater than 0/],
    [{ seed: -1 }, /seed must be a whole number/],
    [{ lambda: Number.NaN }, /lambda/],
    [{ alpha: Number.POSITIVE_INFINITY }, /alpha/],
    [{ maxDepth: '6' }, /max_depth must be a number/],
    [{ max_dept: 6 }, /unknown hyperparameter max_dept/],
    [{ maxDepth: 3, max_depth: 4 }, /max_depth is given twice/],
  ])('rejects %j', (input, message) => {
    expect(() => parseXgbParams(input)).toThrow(UsageError);
    expect(() => parseXgbParams(input)).toThrow(message);
  });

  it('reports every problem at once', () => {
    expect(() => parseXgbParams({ maxDepth: 0, gamma: -1 })).toThrow(/max_depth.*; gamma/);
  });

  it('rejects non-objects', () => {
    expect(() => parseXgbParams(null)).toThrow(UsageError);
    expect(() => parseXgbParams([1])).toThrow(UsageError);
  });

  it('records hyperparameters under the snake_case names whichever spelling was given', () => {
    expect(
      xgbParamRecord({
        maxDepth: 4,
        eta: 0.1,
        reg_lambda: 2,
        nEstimators: 30,
        colsampleBytree: 0.5,
        nthread: undefined,
      }),
    ).toEqual({
      max_depth: 4,
      learning_rate: 0.1,
      lambda: 2,
      n_estimators: 30,
      colsample_bytree: 0.5,
    });
    const recorded = xgbParamRecord(parseXgbParams({ maxDepth: 3 }));
    expect(Object.keys(recorded).every((k) => /^[a-z0-9_]+$/.test(k))).toBe(true);
    expect(parseXgbParams(recorded)).toEqual(parseXgbParams({ maxDepth: 3 }));
  });

  it('maps to XGBoost parameter names, threads only when asked', () => {
    const pairs = new Map(xgbParamPairs(parseXgbParams({ maxDepth: 3, learningRate: 0.1 }), null));
    expect(pairs.get('max_depth')).toBe('3');
    expect(pairs.get('eta')).toBe('0.1');
    expect(pairs.get('tree_method')).toBe('hist');
    expect(pairs.get('objective')).toBe('binary:logistic');
    expect(pairs.has('nthread')).toBe(false);
    expect(new Map(xgbParamPairs(parseXgbParams({}), 2)).get('nthread')).toBe('2');
  });
});
