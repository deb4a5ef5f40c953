import { CONTINUOUS_COLUMNS } from '../dataset/schema.js';
import type { ContinuousColumn } from '../dataset/schema.js';
import { binCounts, chiSquareTest, ksTest, psi, quantileEdges, sortedFinite } from './stats.js';
import { CATEGORICAL_COLUMNS } from './table.js';
import type { CategoricalColumn, Table } from './table.js';

export interface DriftThresholds {
  /** PSI at or above this is drift (default 0.2); half of it is "watch". */
  psi: number;
  /** The test's p-value must be below this for PSI to count (default 0.01): small samples make PSI noisy. */
  pValue: number;
  /** A change of the missing rate at least this large is drift (default 0.1, i.e. 10 points). */
  missing: number;
}

export const DEFAULT_THRESHOLDS: DriftThresholds = { psi: 0.2, pValue: 0.01, missing: 0.1 };

export type Verdict = 'drifted' | 'watch' | 'stable';

export interface FeatureDrift {
  feature: string;
  kind: 'continuous' | 'categorical';
  test: 'ks' | 'chi2';
  psi: number;
  statistic: number;
  pValue: number;
  missingReference: number;
  missingCurrent: number;
  missingChange: number;
  verdict: Verdict;
  drifted: boolean;
  /** Bin labels and shares of each sample, for the report's histograms. */
  bins: { labels: string[]; reference: number[]; current: number[] };
}

export function verdictOf(psiValue: number, pValue: number, missingChange: number, t: DriftThresholds): Verdict {
  if (Math.abs(missingChange) >= t.missing) return 'drifted';
  if (pValue >= t.pValue) return 'stable';
  if (psiValue >= t.psi) return 'drifted';
  return psiValue >= t.psi / 2 ? 'watch' : 'stable';
}

const shares = (counts: number[]) => {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total ? c / total : 0));
};

const fmt = (v: number) => String(Number(v.toPrecision(4)));

/** PSI on the reference's decile bins plus a KS test, for one continuous column. */
export function continuousDrift(
  feature: string,
  ref: Float32Array,
  cur: Float32Array,
  t: DriftThresholds,
): FeatureDrift {
  const a = sortedFinite(ref);
  const b = sortedFinite(cur);
  const edges = quantileEdges(a);
  const rc = binCounts(a, edges);
  const cc = binCounts(b, edges);
  const ks = ksTest(a, b);
  const value = psi(rc, cc);
  const missingReference = ref.length ? 1 - a.length / ref.length : 0;
  const missingCurrent = cur.length ? 1 - b.length / cur.length : 0;
  const verdict = verdictOf(value, ks.pValue, missingCurrent - missingReference, t);
  const labels = rc.map((_, k) =>
    k === 0 ? `<=${fmt(edges[0] ?? 0)}` : k === edges.length ? `>${fmt(edges[k - 1]!)}` : `<=${fmt(edges[k]!)}`,
  );
  return {
    feature,
    kind: 'continuous',
    test: 'ks',
    psi: value,
    statistic: ks.statistic,
    pValue: ks.pValue,
    missingReference,
    missingCurrent,
    missingChange: missingCurrent - missingReference,
    verdict,
    drifted: verdict === 'drifted',
    bins: { labels, reference: shares(rc), current: shares(cc) },
  };
}

/** PSI over the categories of either sample plus a chi-square test of homogeneity, for one categorical column. */
export function categoricalDrift(
  feature: string,
  ref: ReadonlyArray<string | null>,
  cur: ReadonlyArray<string | null>,
  t: DriftThresholds,
): FeatureDrift {
  const index = new Map<string, number>();
  const count = (values: ReadonlyArray<string | null>, into: number[]) => {
    let missing = 0;
    for (const v of values) {
      if (v === null) {
        missing++;
        continue;
      }
      let k = index.get(v);
      if (k === undefined) {
        k = index.size;
        index.set(v, k);
        into.push(0);
      }
      while (into.length <= k) into.push(0);
      into[k]!++;
    }
    return missing;
  };
  const rc: number[] = [];
  const cc: number[] = [];
  const missingRef = count(ref, rc);
  const missingCur = count(cur, cc);
  while (rc.length < index.size) rc.push(0);
  while (cc.length < index.size) cc.push(0);
  const chi = chiSquareTest(rc, cc);
  const value = psi(rc, cc);
  const missingReference = ref.length ? missingRef / ref.length : 0;
  const missingCurrent = cur.length ? missingCur / cur.length : 0;
  const verdict = verdictOf(value, chi.pValue, missingCurrent - missingReference, t);
  return {
    feature,
    kind: 'categorical',
    test: 'chi2',
    psi: value,
    statistic: chi.statistic,
    pValue: chi.pValue,
    missingReference,
    missingCurrent,
    missingChange: missingCurrent - missingReference,
    verdict,
    drifted: verdict === 'drifted',
    bins: { labels: [...index.keys()], reference: shares(rc), current: shares(cc) },
  };
}

/** Every input's drift, continuous columns first. */
export function featureDrift(ref: Table, cur: Table, t: DriftThresholds): FeatureDrift[] {
  return [
    ...CONTINUOUS_COLUMNS.map((c: ContinuousColumn) => continuousDrift(c, ref.num[c], cur.num[c], t)),
    ...CATEGORICAL_COLUMNS.map((c: CategoricalColumn) => categoricalDrift(c, ref.cat[c], cur.cat[c], t)),
  ];
}

export interface PredictionDrift {
  psi: number;
  ksStatistic: number;
  pValue: number;
  rainRateReference: number;
  rainRateCurrent: number;
  meanProbabilityReference: number;
  meanProbabilityCurrent: number;
  drifted: boolean;
}

/** The champion's probabilities on the current rows against those on its own test rows. */
export function predictionDrift(
  ref: Float64Array,
  cur: Float64Array,
  threshold: number,
  t: DriftThresholds,
): PredictionDrift {
  const a = sortedFinite(ref);
  const b = sortedFinite(cur);
  const edges = quantileEdges(a);
  const value = psi(binCounts(a, edges), binCounts(b, edges));
  const ks = ksTest(a, b);
  const rate = (s: Float64Array) => (s.length ? s.filter((p) => p >= threshold).length / s.length : 0);
  const mean = (s: Float64Array) => (s.length ? s.reduce((x, y) => x + y, 0) / s.length : 0);
  return {
    psi: value,
    ksStatistic: ks.statistic,
    pValue: ks.pValue,
    rainRateReference: rate(a),
    rainRateCurrent: rate(b),
    meanProbabilityReference: mean(a),
    meanProbabilityCurrent: mean(b),
    drifted: verdictOf(value, ks.pValue, 0, t) === 'drifted',
  };
}
