import { classificationMetrics } from '../evaluation/metrics.js';

/**
 * F1 expected from the probabilities alone, if the model is calibrated: each row predicted rain is a true
 * positive with probability p, each row predicted dry a false negative with probability p.
 */
export function estimatedF1(p: ArrayLike<number>, threshold: number): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < p.length; i++) {
    const q = p[i]!;
    if (Number.isNaN(q)) continue;
    if (q >= threshold) {
      tp += q;
      fp += 1 - q;
    } else fn += q;
  }
  const d = 2 * tp + fp + fn;
  return d === 0 ? 0 : (2 * tp) / d;
}

export interface Calibration {
  rows: number;
  /** Expected calibration error: the row-weighted gap between mean probability and rain rate, 10 equal bins. */
  ece: number;
  /** The estimate's error on these labelled rows: estimated F1 minus the real one. */
  estimateError: number;
  bins: Array<{ lo: number; hi: number; rows: number; meanProbability: number; rainRate: number }>;
}

/** How far the probabilities can be trusted as frequencies, measured on labelled rows. */
export function calibration(y: ArrayLike<number>, p: ArrayLike<number>, threshold: number): Calibration {
  const k = 10;
  const rows = new Array<number>(k).fill(0);
  const sumP = new Array<number>(k).fill(0);
  const sumY = new Array<number>(k).fill(0);
  for (let i = 0; i < p.length; i++) {
    const b = Math.min(k - 1, Math.max(0, Math.floor(p[i]! * k)));
    rows[b]!++;
    sumP[b]! += p[i]!;
    sumY[b]! += y[i]!;
  }
  let ece = 0;
  for (let b = 0; b < k; b++) if (rows[b]) ece += Math.abs(sumP[b]! - sumY[b]!);
  const real = p.length ? classificationMetrics(y, p, threshold).f1 : 0;
  return {
    rows: p.length,
    ece: p.length ? ece / p.length : 0,
    estimateError: estimatedF1(p, threshold) - real,
    bins: rows.map((n, b) => ({
      lo: b / k,
      hi: (b + 1) / k,
      rows: n,
      meanProbability: n ? sumP[b]! / n : 0,
      rainRate: n ? sumY[b]! / n : 0,
    })),
  };
}

export interface QualityRow {
  /** YYYY-MM, or "all". */
  month: string;
  rows: number;
  /** Rows with a label; the real metrics are null without any. */
  labelled: number;
  f1: number | null;
  precision: number | null;
  recall: number | null;
  rocAuc: number | null;
  estimatedF1: number;
}

function qualityOf(month: string, y: number[], p: number[], threshold: number, all: number[]): QualityRow {
  const base = { month, rows: all.length, labelled: y.length, estimatedF1: estimatedF1(all, threshold) };
  if (y.length === 0) return { ...base, f1: null, precision: null, recall: null, rocAuc: null };
  const m = classificationMetrics(y, p, threshold);
  return {
    ...base,
    f1: m.f1,
    precision: m.precision,
    recall: m.recall,
    rocAuc: Number.isFinite(m.roc_auc) ? m.roc_auc : null,
  };
}

/** Quality per calendar month of the rows' dates (rows without a date are counted in the total only), then overall. */
export function qualityByMonth(
  dates: ReadonlyArray<string | null>,
  labels: Int8Array,
  p: ArrayLike<number>,
  threshold: number,
): { months: QualityRow[]; overall: QualityRow } {
  const groups = new Map<string, { y: number[]; p: number[]; all: number[] }>();
  const total = { y: [] as number[], p: [] as number[], all: [] as number[] };
  for (let i = 0; i < labels.length; i++) {
    const q = p[i]!;
    if (Number.isNaN(q)) continue;
    const add = (g: { y: number[]; p: number[]; all: number[] }) => {
      g.all.push(q);
      if (labels[i]! >= 0) {
        g.y.push(labels[i]!);
        g.p.push(q);
      }
    };
    add(total);
    const d = dates[i];
    if (!d) continue;
    const month = d.slice(0, 7);
    let g = groups.get(month);
    if (!g) {
      g = { y: [], p: [], all: [] };
      groups.set(month, g);
    }
    add(g);
  }
  const months = [...groups.keys()].sort().map((m) => {
    const g = groups.get(m)!;
    return qualityOf(m, g.y, g.p, threshold, g.all);
  });
  return { months, overall: qualityOf('all', total.y, total.p, threshold, total.all) };
}
