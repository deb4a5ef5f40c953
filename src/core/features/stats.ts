/** Statistics over the non-missing (non-NaN) values of a column. */

export function present(values: ArrayLike<number>): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) out.push(v);
  }
  return Float64Array.from(out);
}

/** Quantile with linear interpolation between order statistics (numpy's default method). */
export function quantileSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) {
      sum += v;
      n++;
    }
  }
  return n === 0 ? NaN : sum / n;
}

/** Population standard deviation (divides by n, as numpy's std and scikit-learn's scaler do). */
export function populationStd(values: ArrayLike<number>, mu = mean(values)): number {
  let sq = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) {
      sq += (v - mu) * (v - mu);
      n++;
    }
  }
  return n === 0 ? NaN : Math.sqrt(sq / n);
}

/** Most frequent value; ties go to the smallest in sort order. Null values are ignored. */
export function mode<T extends string | number>(values: Iterable<T | null>): T | null {
  const counts = new Map<T, number>();
  for (const v of values) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: T | null = null;
  let bestCount = 0;
  for (const [v, c] of counts) {
    if (c > bestCount || (c === bestCount && best !== null && v < best)) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}

export interface ClipBounds {
  lo: number;
  hi: number;
}

/** [max(Q1 - k IQR, min), min(Q3 + k IQR, max)] over the non-missing values. */
export function clipBounds(values: ArrayLike<number>, k = 3): ClipBounds {
  const sorted = present(values).sort();
  if (sorted.length === 0) return { lo: -Infinity, hi: Infinity };
  const q1 = quantileSorted(sorted, 0.25);
  const q3 = quantileSorted(sorted, 0.75);
  const iqr = q3 - q1;
  return { lo: Math.max(q1 - k * iqr, sorted[0]!), hi: Math.min(q3 + k * iqr, sorted[sorted.length - 1]!) };
}
