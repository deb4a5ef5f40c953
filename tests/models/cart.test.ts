import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { ceilFloat32, stratifiedSample, trainCart } from '../../src/core/models/cart.js';
import { selectRows } from '../../src/core/models/matrix.js';
import { compileEnsemble, validateEnsemble } from '../../src/core/models/trees.js';
import { WEATHER_FEATURES, weatherRows } from './helpers/weather.js';

describe('CART', () => {
  const { X, y } = weatherRows(0, 8_000, 11);

  it('draws a seeded, stratified sample', () => {
    const a = stratifiedSample(y, 800, 1);
    expect(a).toEqual(stratifiedSample(y, 800, 1));
    expect(a).not.toEqual(stratifiedSample(y, 800, 2));
    const rate = (idx: Int32Array) => idx.reduce((s, i) => s + y[i]!, 0) / idx.length;
    expect(rate(a)).toBeCloseTo(rate(Int32Array.from(y.keys())), 2);
    expect([...a]).toEqual([...a].sort((p, q) => p - q));
  });

  it('rounds thresholds up to float32 so float32 rows split as in double', () => {
    for (const t of [0.1, -0.1, 1e-40, 3.3000000001, -7.25]) {
      const c = ceilFloat32(t);
      expect(Math.fround(c)).toBe(c);
      expect(c).toBeGreaterThanOrEqual(t);
      expect(Math.fround(t) < t ? Math.fround(t) < c : true).toBe(true);
    }
  });

  it('converts ml-cart’s tree to the ensemble form and scores like ml-cart', () => {
    const { ensemble, classifier, sample, fillValues } = trainCart(X, y, WEATHER_FEATURES, {
      maxDepth: 5,
      sampleSize: 600,
      seed: 3,
    });
    expect(sample).toHaveLength(600);
    validateEnsemble(ensemble);
    expect(ensemble.trees[0]!.left.length).toBeGreaterThan(3);
    const rows = selectRows(X, sample);
    const scorer = compileEnsemble(ensemble);
    const probs = scorer.predictMatrix(rows);
    const imputed = Array.from({ length: rows.rows }, (_, i) =>
      Array.from(rows.data.subarray(i * rows.cols, (i + 1) * rows.cols), (v, j) =>
        Number.isNaN(v) ? fillValues[j]! : v,
      ),
    );
    const classes = classifier.predict(imputed);
    // ml-cart's leaf distribution, read through its own tree walk
    const root = (
      classifier as unknown as {
        root: { classify(r: number[]): { get(i: number, j: number): number; columns: number } };
      }
    ).root;
    let agree = 0;
    for (let i = 0; i < rows.rows; i++) {
      const dist = root.classify(imputed[i]!);
      const p1 = dist.columns > 1 ? dist.get(0, 1) : 0;
      expect(Math.abs(probs[i]! - Math.min(Math.max(p1, 1e-6), 1 - 1e-6))).toBeLessThan(1e-6);
      if (Math.abs(p1 - 0.5) > 1e-9 && (probs[i]! > 0.5 ? 1 : 0) === classes[i]) agree++;
      else if (Math.abs(p1 - 0.5) <= 1e-9) agree++;
    }
    expect(agree).toBe(rows.rows);
    const cover = ensemble.trees[0]!.cover!;
    expect(cover[0]).toBe(600);
  });

  it('validates its options', () => {
    expect(() => trainCart(X, y, WEATHER_FEATURES, { maxDepth: 0 })).toThrow(UsageError);
    expect(() => trainCart(X, y, ['a'], {})).toThrow(/feature names/);
  });
});
