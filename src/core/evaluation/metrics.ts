/**
 * Binary classification metrics for labels `y` (0/1) and predicted probabilities `p` of class 1.
 * A row is predicted positive when `p >= threshold`, everywhere in this module.
 *
 * Everything that needs an ordering sorts the scores once (O(n log n)) and sweeps the distinct
 * scores from the largest down, keeping integer counts of true and false positives, so results are
 * exact: no floating-point accumulation error in the counts and ties are grouped, never split.
 */
import { DataError, UsageError } from '../errors.js';

export interface ConfusionMatrix {
  tn: number;
  fp: number;
  fn: number;
  tp: number;
}

/** `[[tn, fp], [fn, tp]]`: rows are the actual class, columns the predicted one (scikit-learn's layout). */
export type ConfusionMatrixArray = [[number, number], [number, number]];

export interface ClassificationMetrics {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** NaN when `y` holds a single class (the AUC is undefined then). */
  roc_auc: number;
  log_loss: number;
  threshold: number;
  confusion_matrix: ConfusionMatrixArray;
}

export interface RocPoint {
  fpr: number;
  tpr: number;
  threshold: number;
}

export interface PrPoint {
  precision: number;
  recall: number;
  threshold: number;
}

export const METRIC_NAMES = ['f1', 'accuracy', 'roc_auc'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** Curves are thinned to at most this many points (plots don't need more). */
export const MAX_CURVE_POINTS = 500;

/** Probabilities are clipped to [LOG_LOSS_EPS, 1 - LOG_LOSS_EPS] before taking logs. */
export const LOG_LOSS_EPS = 1e-15;

function checkInputs(y: ArrayLike<number>, p: ArrayLike<number>, allowEmpty = false): void {
  if (y.length !== p.length)
    throw new DataError(`labels and probabilities differ in length (${y.length} labels, ${p.length} probabilities)`);
  if (!allowEmpty && y.length === 0) throw new DataError('cannot evaluate a classifier on no rows');
  for (let i = 0; i < y.length; i++) {
    const label = y[i];
    if (label !== 0 && label !== 1) throw new DataError(`label ${i} is ${String(label)}; labels must be 0 or 1`);
    const prob = p[i];
    if (typeof prob !== 'number' || !Number.isFinite(prob))
      throw new DataError(`probability ${i} is ${String(prob)}; probabilities must be finite numbers`);
  }
}

function checkThreshold(threshold: number): void {
  if (typeof threshold !== 'number' || Number.isNaN(threshold))
    throw new DataError(`the decision threshold must be a number, not ${String(threshold)}`);
}

/** Counts at `p >= threshold`. Empty inputs give all zeros. */
export function confusionMatrix(y: ArrayLike<number>, p: ArrayLike<number>, threshold = 0.5): ConfusionMatrix {
  checkInputs(y, p, true);
  checkThreshold(threshold);
  let tn = 0;
  let fp = 0;
  let fn = 0;
  let tp = 0;
  for (let i = 0; i < y.length; i++) {
    const predicted = (p[i] as number) >= threshold;
    if (y[i] === 1) {
      if (predicted) tp++;
      else fn++;
    } else if (predicted) fp++;
    else tn++;
  }
  return { tn, fp, fn, tp };
}

/** a / b, or 0 when b is 0 (scikit-learn's zero_division=0). */
function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/** Mean binary cross-entropy with `p` clipped to [1e-15, 1 - 1e-15]. */
export function logLoss(y: ArrayLike<number>, p: ArrayLike<number>): number {
  checkInputs(y, p);
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    const q = Math.min(Math.max(p[i] as number, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS);
    sum -= y[i] === 1 ? Math.log(q) : Math.log1p(-q);
  }
  return sum / y.length;
}

export function classificationMetrics(
  y: ArrayLike<number>,
  p: ArrayLike<number>,
  threshold = 0.5,
): ClassificationMetrics {
  checkInputs(y, p);
  const { tn, fp, fn, tp } = confusionMatrix(y, p, threshold);
  return {
    accuracy: (tp + tn) / y.length,
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, tp + fn),
    f1: ratio(2 * tp, 2 * tp + fp + fn),
    roc_auc: rocAuc(y, p),
    log_loss: logLoss(y, p),
    threshold,
    confusion_matrix: [
      [tn, fp],
      [fn, tp],
    ],
  };
}

/**
 * The distinct scores in decreasing order, with the cumulative true/false positive counts when
 * predicting positive at `p >= thresholds[k]`.
 */
interface Sweep {
  thresholds: Float64Array;
  tp: Float64Array;
  fp: Float64Array;
  nPos: number;
  nNeg: number;
}

function sweep(y: ArrayLike<number>, p: ArrayLike<number>): Sweep {
  let nPos = 0;
  for (let i = 0; i < y.length; i++) if (y[i] === 1) nPos++;
  const nNeg = y.length - nPos;
  const pos = new Float64Array(nPos);
  const neg = new Float64Array(nNeg);
  for (let i = 0, a = 0, b = 0; i < y.length; i++) {
    if (y[i] === 1) pos[a++] = p[i] as number;
    else neg[b++] = p[i] as number;
  }
  // Numeric ascending sorts (typed arrays sort by value, not as strings); merged from the top.
  pos.sort();
  neg.sort();
  const thresholds = new Float64Array(y.length);
  const tps = new Float64Array(y.length);
  const fps = new Float64Array(y.length);
  let i = nPos - 1;
  let j = nNeg - 1;
  let tp = 0;
  let fp = 0;
  let k = 0;
  while (i >= 0 || j >= 0) {
    const t = Math.max(i >= 0 ? (pos[i] as number) : -Infinity, j >= 0 ? (neg[j] as number) : -Infinity);
    while (i >= 0 && pos[i] === t) {
      tp++;
      i--;
    }
    while (j >= 0 && neg[j] === t) {
      fp++;
      j--;
    }
    thresholds[k] = t;
    tps[k] = tp;
    fps[k] = fp;
    k++;
  }
  return { thresholds: thresholds.subarray(0, k), tp: tps.subarray(0, k), fp: fps.subarray(0, k), nPos, nNeg };
}

/**
 * Area under the ROC curve, exactly: the Mann-Whitney U statistic over nPos * nNeg, a tied
 * positive/negative pair counting one half (what average ranks give). Computed as the trapezoid
 * rule over the tie-grouped ROC steps in integer counts. NaN when `y` holds a single class.
 */
export function rocAuc(y: ArrayLike<number>, p: ArrayLike<number>): number {
  checkInputs(y, p);
  const s = sweep(y, p);
  if (s.nPos === 0 || s.nNeg === 0) return Number.NaN;
  let twiceArea = 0;
  let tpPrev = 0;
  let fpPrev = 0;
  for (let k = 0; k < s.thresholds.length; k++) {
    const tp = s.tp[k] as number;
    const fp = s.fp[k] as number;
    twiceArea += (fp - fpPrev) * (tp + tpPrev);
    tpPrev = tp;
    fpPrev = fp;
  }
  return twiceArea / (2 * s.nPos * s.nNeg);
}

/** The smallest double above `x` (a threshold no score reaches when `x` is the largest score). */
function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  const f = new Float64Array([x]);
  const bits = new BigInt64Array(f.buffer);
  bits[0] = (bits[0] as bigint) + (x > 0 ? 1n : -1n);
  return f[0] as number;
}

/** At most `max` points picked evenly by index, the first and last always kept. */
export function thinPoints<T>(points: readonly T[], max = MAX_CURVE_POINTS): T[] {
  if (points.length <= max) return points.slice();
  if (max < 2) throw new RangeError(`cannot thin a curve to fewer than 2 points (asked for ${max})`);
  const out: T[] = [];
  let last = -1;
  for (let k = 0; k < max; k++) {
    const index = Math.round((k * (points.length - 1)) / (max - 1));
    if (index !== last) out.push(points[index] as T);
    last = index;
  }
  return out;
}

/**
 * ROC curve from (0, 0) (the threshold just above the largest score: nothing predicted positive)
 * to (1, 1) (the smallest score: everything positive), thresholds decreasing, one point per
 * distinct score, then thinned to at most `maxPoints`. Both classes must be present.
 */
export function rocCurve(y: ArrayLike<number>, p: ArrayLike<number>, maxPoints = MAX_CURVE_POINTS): RocPoint[] {
  checkInputs(y, p);
  const s = sweep(y, p);
  if (s.nPos === 0 || s.nNeg === 0)
    throw new DataError(`a ROC curve needs both classes, but all ${y.length} labels are ${s.nPos === 0 ? 0 : 1}`);
  const points: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: nextUp(s.thresholds[0] as number) }];
  for (let k = 0; k < s.thresholds.length; k++) {
    points.push({
      fpr: (s.fp[k] as number) / s.nNeg,
      tpr: (s.tp[k] as number) / s.nPos,
      threshold: s.thresholds[k] as number,
    });
  }
  return thinPoints(points, maxPoints);
}

/**
 * Precision-recall curve with thresholds decreasing: it starts at recall 0, precision 1 (the
 * threshold just above the largest score, as in scikit-learn) and ends at recall 1 (the smallest
 * score), one point per distinct score, thinned to at most `maxPoints`. Needs a positive label.
 */
export function precisionRecallCurve(
  y: ArrayLike<number>,
  p: ArrayLike<number>,
  maxPoints = MAX_CURVE_POINTS,
): PrPoint[] {
  checkInputs(y, p);
  const s = sweep(y, p);
  if (s.nPos === 0)
    throw new DataError(`a precision-recall curve needs positive labels, but all ${y.length} labels are 0`);
  const points: PrPoint[] = [{ precision: 1, recall: 0, threshold: nextUp(s.thresholds[0] as number) }];
  for (let k = 0; k < s.thresholds.length; k++) {
    const tp = s.tp[k] as number;
    points.push({
      precision: tp / (tp + (s.fp[k] as number)),
      recall: tp / s.nPos,
      threshold: s.thresholds[k] as number,
    });
  }
  return thinPoints(points, maxPoints);
}

/**
 * The threshold among the distinct predicted probabilities that maximizes F1 at `p >= threshold`;
 * among equal F1 values the one closest to 0.5 wins, and of two equally close the larger one.
 * F1 is 0 everywhere when no label is 1.
 */
export function bestF1Threshold(y: ArrayLike<number>, p: ArrayLike<number>): { threshold: number; f1: number } {
  checkInputs(y, p);
  const s = sweep(y, p);
  let bestThreshold = Number.NaN;
  let bestF1 = -1;
  let bestDistance = Infinity;
  // Thresholds come in decreasing order, so keeping the first of equally close ones keeps the larger.
  for (let k = 0; k < s.thresholds.length; k++) {
    const t = s.thresholds[k] as number;
    const tp = s.tp[k] as number;
    // 2tp / (2tp + fp + fn) with fn = nPos - tp; the denominator is >= 1 (each group is non-empty).
    const f1 = (2 * tp) / (tp + (s.fp[k] as number) + s.nPos);
    const distance = Math.abs(t - 0.5);
    if (f1 > bestF1 || (f1 === bestF1 && distance < bestDistance)) {
      bestF1 = f1;
      bestThreshold = t;
      bestDistance = distance;
    }
  }
  return { threshold: bestThreshold, f1: bestF1 };
}

/** A score to maximize in hyperparameter search (`threshold` is ignored by roc_auc). */
export function scoreMetric(name: MetricName, y: ArrayLike<number>, p: ArrayLike<number>, threshold = 0.5): number {
  switch (name) {
    case 'roc_auc':
      return rocAuc(y, p);
    case 'f1': {
      checkInputs(y, p);
      const { fp, fn, tp } = confusionMatrix(y, p, threshold);
      return ratio(2 * tp, 2 * tp + fp + fn);
    }
    case 'accuracy': {
      checkInputs(y, p);
      const { tn, tp } = confusionMatrix(y, p, threshold);
      return (tp + tn) / y.length;
    }
    default: {
      const unknown: never = name;
      throw new UsageError(`unknown metric '${String(unknown)}'; use one of ${METRIC_NAMES.join(', ')}`);
    }
  }
}
