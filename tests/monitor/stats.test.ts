import { describe, expect, it } from 'vitest';
import { categoricalDrift, continuousDrift, DEFAULT_THRESHOLDS, verdictOf } from '../../src/core/monitor/drift.js';
import { calibration, estimatedF1, qualityByMonth } from '../../src/core/monitor/quality.js';
import {
  binCounts,
  chiSquareSurvival,
  chiSquareTest,
  kolmogorovSurvival,
  ksTest,
  lnGamma,
  psi,
  quantileEdges,
} from '../../src/core/monitor/stats.js';
import { classificationMetrics } from '../../src/core/evaluation/metrics.js';

/** A seeded generator (mulberry32), so the samples are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const normal = (r: () => number) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

describe('special functions against table values', () => {
  it('log-gamma', () => {
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(lnGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(lnGamma(100)).toBeCloseTo(359.1342053695754, 9);
  });

  it('chi-square survival', () => {
    expect(chiSquareSurvival(3.841458820694124, 1)).toBeCloseTo(0.05, 10);
    expect(chiSquareSurvival(6.634896601021214, 1)).toBeCloseTo(0.01, 10);
    expect(chiSquareSurvival(18.307038053275146, 10)).toBeCloseTo(0.05, 10);
    expect(chiSquareSurvival(2, 2)).toBeCloseTo(Math.exp(-1), 12);
    expect(chiSquareSurvival(65.1707689035698, 48)).toBeCloseTo(0.05, 8);
    expect(chiSquareSurvival(0, 3)).toBe(1);
    expect(chiSquareSurvival(1e4, 3)).toBe(0);
  });

  it('Kolmogorov survival', () => {
    expect(kolmogorovSurvival(1.3580986393225505)).toBeCloseTo(0.05, 6);
    expect(kolmogorovSurvival(1.6276236115189)).toBeCloseTo(0.01, 6);
    expect(kolmogorovSurvival(0.1)).toBe(1);
  });
});

describe('two-sample tests', () => {
  it('KS: identical samples give 0, disjoint ones 1, ties counted together', () => {
    const a = Float64Array.from([1, 2, 2, 3]);
    expect(ksTest(a, a)).toEqual({ statistic: 0, pValue: 1 });
    const d = ksTest(Float64Array.from([1, 2, 3]), Float64Array.from([4, 5, 6]));
    expect(d.statistic).toBe(1);
    expect(ksTest(Float64Array.from([1, 1, 2, 2]), Float64Array.from([1, 2, 2, 2])).statistic).toBeCloseTo(0.25, 12);
  });

  it('KS keeps its level on same-distribution samples and finds a shift of 0.2 sd in 5,000 rows', () => {
    const r = rng(7);
    const draw = (n: number, mu: number) => Float64Array.from({ length: n }, () => mu + normal(r)).sort();
    let rejections = 0;
    for (let k = 0; k < 200; k++) if (ksTest(draw(300, 0), draw(300, 0)).pValue < 0.05) rejections++;
    expect(rejections / 200).toBeLessThan(0.1);
    expect(ksTest(draw(5000, 0), draw(5000, 0.2)).pValue).toBeLessThan(1e-6);
  });

  it('chi-square of homogeneity: a hand-checked 2x3 table', () => {
    // Expected counts 20/30/50 for both rows (totals 100 each); the statistic is sum((O-E)^2/E).
    const t = chiSquareTest([10, 30, 60], [30, 30, 40]);
    expect(t.dof).toBe(2);
    expect(t.statistic).toBeCloseTo(100 / 20 + 100 / 20 + 0 + 0 + 100 / 50 + 100 / 50, 10);
    expect(t.pValue).toBeCloseTo(Math.exp(-14 / 2), 10);
    expect(chiSquareTest([5, 0, 5], [5, 0, 5]).dof).toBe(1);
  });

  it('PSI', () => {
    expect(psi([50, 50], [50, 50])).toBe(0);
    expect(psi([50, 50], [25, 75])).toBeCloseTo(0.25 * Math.log(2) + 0.25 * Math.log(1.5), 12);
    // An empty bin is floored at 1e-4 rather than infinite.
    expect(psi([100, 0], [50, 50])).toBeCloseTo(-0.5 * Math.log(0.5) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4), 10);
  });

  it('decile edges merge repeated values; values on an edge fall in the lower bin', () => {
    const zeros = Float64Array.from([0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    expect(quantileEdges(zeros)).toEqual([0, 1, 2, 3, 4]);
    expect(binCounts(zeros, [0, 1, 2, 3, 4])).toEqual([6, 1, 1, 1, 1, 0]);
  });
});

describe('verdicts', () => {
  it('drifted at PSI 0.2 with a small p-value, watch from 0.1, and a jump in missing values', () => {
    const t = DEFAULT_THRESHOLDS;
    expect(verdictOf(0.25, 1e-9, 0, t)).toBe('drifted');
    expect(verdictOf(0.15, 1e-9, 0, t)).toBe('watch');
    expect(verdictOf(0.05, 1e-9, 0, t)).toBe('stable');
    // A large PSI on a handful of rows that the test cannot tell from noise is not drift.
    expect(verdictOf(0.5, 0.3, 0, t)).toBe('stable');
    expect(verdictOf(0, 1, 0.3, t)).toBe('drifted');
  });

  it('a shifted continuous column drifts, an unchanged one does not', () => {
    const r = rng(3);
    const ref = Float32Array.from({ length: 5000 }, () => 50 + 10 * normal(r));
    const same = Float32Array.from({ length: 2000 }, () => 50 + 10 * normal(r));
    const moved = Float32Array.from({ length: 2000 }, () => 60 + 10 * normal(r));
    expect(continuousDrift('x', ref, same, DEFAULT_THRESHOLDS).verdict).toBe('stable');
    const d = continuousDrift('x', ref, moved, DEFAULT_THRESHOLDS);
    expect(d.drifted).toBe(true);
    expect(d.psi).toBeGreaterThan(0.5);
  });

  it('categorical: a category that appears only in the current rows is drift; missing values are counted apart', () => {
    const ref = [...Array(900).fill('a'), ...Array(100).fill(null)];
    const cur = [...Array(500).fill('a'), ...Array(400).fill('b'), ...Array(100).fill(null)];
    const d = categoricalDrift('c', ref, cur, DEFAULT_THRESHOLDS);
    expect(d.missingChange).toBeCloseTo(0, 12);
    expect(d.drifted).toBe(true);
    expect(d.bins.labels).toEqual(['a', 'b']);
  });
});

describe('quality', () => {
  it('estimated F1 matches the real one on calibrated probabilities', () => {
    const r = rng(11);
    const p = Float64Array.from({ length: 50_000 }, () => r() ** 2);
    const y = Float64Array.from(p, (q) => (r() < q ? 1 : 0));
    const real = classificationMetrics(y, p, 0.4).f1;
    expect(Math.abs(estimatedF1(p, 0.4) - real)).toBeLessThan(0.01);
    const c = calibration(y, p, 0.4);
    expect(c.ece).toBeLessThan(0.02);
    expect(Math.abs(c.estimateError)).toBeLessThan(0.01);
  });

  it('calibration sees overconfident probabilities', () => {
    const r = rng(5);
    const q = Float64Array.from({ length: 20_000 }, () => r());
    const y = Float64Array.from(q, (v) => (r() < v ? 1 : 0));
    const over = Float64Array.from(q, (v) => (v > 0.5 ? Math.min(1, v + 0.3) : Math.max(0, v - 0.3)));
    expect(calibration(y, over, 0.5).ece).toBeGreaterThan(0.15);
  });

  it('one row per month, rows without a label counted but not scored', () => {
    const dates = ['2017-01-03', '2017-01-20', '2017-02-01', null, '2017-02-11'];
    const labels = Int8Array.from([1, 0, -1, 1, 0]);
    const p = [0.9, 0.2, 0.7, 0.8, 0.1];
    const { months, overall } = qualityByMonth(dates, labels, p, 0.5);
    expect(months.map((m) => [m.month, m.rows, m.labelled])).toEqual([
      ['2017-01', 2, 2],
      ['2017-02', 2, 1],
    ]);
    expect(months[0]!.f1).toBe(1);
    expect(overall).toMatchObject({ rows: 5, labelled: 4, f1: 1 });
  });
});
