import { describe, expect, it } from 'vitest';
import { DataError, UsageError } from '../../src/core/errors.js';
import {
  bestF1Threshold,
  classificationMetrics,
  confusionMatrix,
  logLoss,
  MAX_CURVE_POINTS,
  precisionRecallCurve,
  rocAuc,
  rocCurve,
  scoreMetric,
  thinPoints,
  type MetricName,
} from '../../src/core/evaluation/metrics.js';
import { seededRandom } from '../../src/core/dataset/random.js';

/** A seeded generator so random cases are reproducible. */
const rng = seededRandom;

/** Labels with some signal and probabilities rounded to `decimals` (so there are ties). */
function randomCase(seed: number, size: number, decimals = 2, prevalence = 0.3): { y: number[]; p: number[] } {
  const r = rng(seed);
  const y: number[] = [];
  const p: number[] = [];
  for (let i = 0; i < size; i++) {
    const label = r() < prevalence ? 1 : 0;
    const score = Math.min(1, Math.max(0, 0.35 * label + 0.65 * r()));
    y.push(label);
    p.push(Number(score.toFixed(decimals)));
  }
  return { y, p };
}

/** AUC as the share of (positive, negative) pairs ranked right, ties counting one half: O(n^2). */
function pairwiseAuc(y: number[], p: number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 1) continue;
    for (let j = 0; j < y.length; j++) {
      if (y[j] !== 0) continue;
      pairs++;
      if (p[i]! > p[j]!) wins += 1;
      else if (p[i] === p[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

function bruteF1(y: number[], p: number[], t: number): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < y.length; i++) {
    const pred = p[i]! >= t;
    if (pred && y[i] === 1) tp++;
    else if (pred) fp++;
    else if (y[i] === 1) fn++;
  }
  return 2 * tp + fp + fn === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** Every distinct probability tried; ties: closest to 0.5, then the larger threshold. */
function bruteBestF1(y: number[], p: number[]): { threshold: number; f1: number } {
  let best = { threshold: Number.NaN, f1: -1 };
  for (const t of new Set(p)) {
    const f1 = bruteF1(y, p, t);
    const d = Math.abs(t - 0.5);
    const bd = Math.abs(best.threshold - 0.5);
    if (f1 > best.f1 || (f1 === best.f1 && (d < bd || (d === bd && t > best.threshold)))) best = { threshold: t, f1 };
  }
  return best;
}

const Y = [0, 0, 1, 1];
const P = [0.1, 0.4, 0.35, 0.8];

describe('confusionMatrix and classificationMetrics', () => {
  it('counts p >= threshold as positive', () => {
    expect(confusionMatrix(Y, P, 0.5)).toEqual({ tn: 2, fp: 0, fn: 1, tp: 1 });
    expect(confusionMatrix(Y, P, 0.35)).toEqual({ tn: 1, fp: 1, fn: 0, tp: 2 });
    expect(confusionMatrix(Y, P, 0.4)).toEqual({ tn: 1, fp: 1, fn: 1, tp: 1 });
    expect(confusionMatrix([], [], 0.5)).toEqual({ tn: 0, fp: 0, fn: 0, tp: 0 });
    expect(confusionMatrix(new Uint8Array(Y), new Float64Array(P), 0.1)).toEqual({ tn: 0, fp: 2, fn: 0, tp: 2 });
  });

  it('matches hand-computed metrics', () => {
    const m = classificationMetrics(Y, P, 0.5);
    expect(m.accuracy).toBe(0.75);
    expect(m.precision).toBe(1);
    expect(m.recall).toBe(0.5);
    expect(m.f1).toBeCloseTo(2 / 3, 15);
    expect(m.roc_auc).toBe(0.75);
    // -(ln 0.9 + ln 0.6 + ln 0.35 + ln 0.8) / 4, as scikit-learn's log_loss gives
    expect(m.log_loss).toBeCloseTo(0.47228795380917615, 12);
    expect(m.threshold).toBe(0.5);
    expect(m.confusion_matrix).toEqual([
      [2, 0],
      [1, 1],
    ]);
  });

  it('uses 0 for undefined precision, recall and f1 (zero_division=0)', () => {
    const none = classificationMetrics([0, 1, 0], [0.1, 0.2, 0.3], 0.9);
    expect(none.precision).toBe(0);
    expect(none.recall).toBe(0);
    expect(none.f1).toBe(0);
    expect(none.accuracy).toBeCloseTo(2 / 3, 15);
    const noPositives = classificationMetrics([0, 0], [0.1, 0.2], 0.5);
    expect(noPositives).toMatchObject({ precision: 0, recall: 0, f1: 0, accuracy: 1 });
    expect(noPositives.roc_auc).toBeNaN();
  });

  it('clips probabilities in the log loss', () => {
    expect(logLoss([1], [0])).toBeCloseTo(34.538776394910684, 9);
    expect(logLoss([0], [1])).toBeCloseTo(34.538776394910684, 2);
    expect(logLoss([1, 0], [1, 0])).toBeCloseTo(1e-15, 17);
    expect(logLoss([1, 0], [0.5, 0.5])).toBeCloseTo(Math.LN2, 15);
    expect(Number.isFinite(logLoss([1, 0], [-3, 7]))).toBe(true);
  });

  it('rejects inputs it cannot evaluate', () => {
    expect(() => classificationMetrics([0, 1], [0.5], 0.5)).toThrow(DataError);
    expect(() => classificationMetrics([0, 2], [0.5, 0.5], 0.5)).toThrow(/labels must be 0 or 1/);
    expect(() => classificationMetrics([0, 1], [0.5, Number.NaN], 0.5)).toThrow(/finite/);
    expect(() => classificationMetrics([], [], 0.5)).toThrow(DataError);
    expect(() => confusionMatrix([0], [0.5], Number.NaN)).toThrow(DataError);
    expect(() => rocCurve([1, 1], [0.2, 0.3])).toThrow(/both classes/);
    expect(() => precisionRecallCurve([0, 0], [0.2, 0.3])).toThrow(/positive labels/);
  });
});

describe('rocAuc', () => {
  it('is 0.75 on the textbook case', () => {
    expect(rocAuc(Y, P)).toBe(0.75);
  });

  it('counts ties as one half', () => {
    // pairs (pos, neg): (0.5, 0.5) tie, (0.5, 0.2) win, (0.9, 0.5) win, (0.9, 0.2) win -> 3.5 / 4
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])).toBe(0.875);
    expect(rocAuc([0, 1, 1, 0, 1], [0.3, 0.3, 0.3, 0.3, 0.3])).toBe(0.5);
    expect(rocAuc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])).toBe(0);
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])).toBe(1);
  });

  it('is NaN with a single class', () => {
    expect(rocAuc([1, 1], [0.1, 0.2])).toBeNaN();
  });

  it('equals the pairwise count on random data with ties', () => {
    for (const seed of [1, 2, 3, 42]) {
      const { y, p } = randomCase(seed, 700, seed === 42 ? 1 : 2);
      expect(rocAuc(y, p)).toBeCloseTo(pairwiseAuc(y, p), 12);
    }
  });

  it('equals the trapezoid area under the full ROC curve', () => {
    const { y, p } = randomCase(7, 3000, 3);
    const curve = rocCurve(y, p, Infinity);
    let area = 0;
    for (let k = 1; k < curve.length; k++)
      area += ((curve[k]!.fpr - curve[k - 1]!.fpr) * (curve[k]!.tpr + curve[k - 1]!.tpr)) / 2;
    expect(rocAuc(y, p)).toBeCloseTo(area, 12);
  });
});

describe('curves', () => {
  it('gives the ROC points of the textbook case', () => {
    const curve = rocCurve(Y, P);
    expect(curve.map(({ fpr, tpr }) => [fpr, tpr])).toEqual([
      [0, 0],
      [0, 0.5],
      [0.5, 0.5],
      [0.5, 1],
      [1, 1],
    ]);
    expect(curve.slice(1).map((pt) => pt.threshold)).toEqual([0.8, 0.4, 0.35, 0.1]);
    expect(curve[0]!.threshold).toBeGreaterThan(0.8);
    expect(Number.isFinite(curve[0]!.threshold)).toBe(true);
  });

  it('gives the precision-recall points of the textbook case', () => {
    const curve = precisionRecallCurve(Y, P);
    expect(curve.map(({ precision, recall }) => [precision, recall])).toEqual([
      [1, 0],
      [1, 0.5],
      [0.5, 0.5],
      [2 / 3, 1],
      [0.5, 1],
    ]);
  });

  it('has a starting threshold above a score of exactly 1', () => {
    const curve = rocCurve([0, 1], [0, 1]);
    expect(curve[0]!.threshold).toBeGreaterThan(1);
    expect(confusionMatrix([0, 1], [0, 1], curve[0]!.threshold)).toEqual({ tn: 1, fp: 0, fn: 1, tp: 0 });
  });

  it('is monotone, thinned to at most 500 points and ends at (1, 1) / recall 1', () => {
    const { y, p } = randomCase(11, 20_000, 6);
    const roc = rocCurve(y, p);
    const pr = precisionRecallCurve(y, p);
    expect(roc.length).toBeLessThanOrEqual(MAX_CURVE_POINTS);
    expect(roc.length).toBeGreaterThan(400);
    expect(pr.length).toBeLessThanOrEqual(MAX_CURVE_POINTS);
    expect(roc[0]).toMatchObject({ fpr: 0, tpr: 0 });
    expect(roc.at(-1)).toMatchObject({ fpr: 1, tpr: 1, threshold: Math.min(...p) });
    expect(pr[0]).toMatchObject({ precision: 1, recall: 0 });
    expect(pr.at(-1)!.recall).toBe(1);
    expect(pr.at(-1)!.precision).toBeCloseTo(y.filter((v) => v === 1).length / y.length, 15);
    for (let k = 1; k < roc.length; k++) {
      expect(roc[k]!.fpr).toBeGreaterThanOrEqual(roc[k - 1]!.fpr);
      expect(roc[k]!.tpr).toBeGreaterThanOrEqual(roc[k - 1]!.tpr);
      expect(roc[k]!.threshold).toBeLessThan(roc[k - 1]!.threshold);
    }
    for (let k = 1; k < pr.length; k++) {
      expect(pr[k]!.recall).toBeGreaterThanOrEqual(pr[k - 1]!.recall);
      expect(pr[k]!.threshold).toBeLessThan(pr[k - 1]!.threshold);
    }
    for (const pt of [...roc, ...pr]) for (const v of Object.values(pt)) expect(Number.isFinite(v)).toBe(true);
  });

  it('keeps the points it returns exact (each one matches the confusion matrix at its threshold)', () => {
    const { y, p } = randomCase(5, 2000, 4);
    const roc = rocCurve(y, p);
    for (const pt of roc.filter((_, k) => k % 37 === 0)) {
      const cm = confusionMatrix(y, p, pt.threshold);
      expect(pt.tpr).toBe(cm.tp / (cm.tp + cm.fn));
      expect(pt.fpr).toBe(cm.fp / (cm.fp + cm.tn));
    }
  });

  it('thins evenly, keeping both ends', () => {
    const pts = Array.from({ length: 1000 }, (_, k) => k);
    const thin = thinPoints(pts, 500);
    expect(thin).toHaveLength(500);
    expect(thin[0]).toBe(0);
    expect(thin.at(-1)).toBe(999);
    const gaps = thin.slice(1).map((v, k) => v - thin[k]!);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThanOrEqual(1);
    expect(thinPoints([1, 2, 3], 500)).toEqual([1, 2, 3]);
    expect(thinPoints(pts, 2)).toEqual([0, 999]);
  });

  it('reads each label and score a fixed number of times whatever the size (it sorts; it compares no pairs)', () => {
    const readsPerRow = [1_000, 20_000].map((n) => {
      const { y, p } = randomCase(3, n, 8);
      let reads = 0;
      // Counts every element read; a pairwise method would read each element about n times.
      const counted = (values: number[]) =>
        new Proxy(values, {
          get(target, key, receiver) {
            if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
            return Reflect.get(target, key, receiver);
          },
        });
      rocAuc(counted(y), counted(p));
      rocCurve(counted(y), counted(p));
      precisionRecallCurve(counted(y), counted(p));
      bestF1Threshold(counted(y), counted(p));
      return reads / n;
    });
    expect(readsPerRow[0]).toBeLessThanOrEqual(24);
    expect(readsPerRow[1]).toBe(readsPerRow[0]);
  });
});

describe('bestF1Threshold', () => {
  it('matches a brute-force search over every distinct probability', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
      const { y, p } = randomCase(seed, 60 + seed * 40, seed % 3 === 0 ? 1 : 2, 0.1 + seed * 0.05);
      const got = bestF1Threshold(y, p);
      const want = bruteBestF1(y, p);
      expect(got).toEqual(want);
      expect(got.f1).toBe(bruteF1(y, p, got.threshold));
    }
  });

  it('prefers the threshold closest to 0.5 among equal F1, then the larger', () => {
    // F1 is 2/3 at 0.95 (tp 1, fn 1) and at the lowest score (tp 2, fp 2)
    expect(bestF1Threshold([1, 0, 0, 1], [0.95, 0.6, 0.55, 0.05])).toEqual({ threshold: 0.95, f1: 2 / 3 });
    expect(bestF1Threshold([1, 0, 0, 1], [0.95, 0.6, 0.55, 0.1])).toEqual({ threshold: 0.1, f1: 2 / 3 });
    // no positives: F1 is 0 everywhere, so the threshold closest to 0.5
    expect(bestF1Threshold([0, 0, 0], [0.1, 0.45, 0.9])).toEqual({ threshold: 0.45, f1: 0 });
  });

  it('finds a perfect split', () => {
    expect(bestF1Threshold(Y, [0.1, 0.2, 0.7, 0.9])).toEqual({ threshold: 0.7, f1: 1 });
  });
});

describe('scoreMetric', () => {
  it('returns the named metric', () => {
    const m = classificationMetrics(Y, P, 0.4);
    expect(scoreMetric('f1', Y, P, 0.4)).toBe(m.f1);
    expect(scoreMetric('accuracy', Y, P, 0.4)).toBe(m.accuracy);
    expect(scoreMetric('roc_auc', Y, P, 0.4)).toBe(0.75);
    expect(scoreMetric('f1', Y, P)).toBeCloseTo(2 / 3, 15);
    expect(() => scoreMetric('brier' as MetricName, Y, P)).toThrow(UsageError);
  });
});
