/**
 * Two-sample drift statistics: PSI, Kolmogorov-Smirnov and chi-square, with their p-values. The special
 * functions are the textbook ones (Lanczos log-gamma, series and continued fraction for the incomplete
 * gamma, the Kolmogorov series); tests pin them to published table values.
 */

/** Proportions below this are floored in PSI, so an empty bin costs a finite amount. */
export const PSI_EPSILON = 1e-4;

const LANCZOS = [
  676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7: about 15 significant digits). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = 0.99999999999980993;
  const t = z + 7.5;
  for (let i = 0; i < LANCZOS.length; i++) a += LANCZOS[i]! / (z + i + 1);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (!Number.isFinite(x)) return 0;
  const front = Math.exp(-x + a * Math.log(x) - lnGamma(a));
  if (x < a + 1) {
    // Series for P(a, x): converges fast below a + 1.
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * front);
  }
  // Continued fraction for Q(a, x) (modified Lentz).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, front * h);
}

/** P(X >= x) for a chi-square variable with `dof` degrees of freedom. */
export function chiSquareSurvival(x: number, dof: number): number {
  if (dof <= 0) return 1;
  return gammaQ(dof / 2, x / 2);
}

/** The Kolmogorov distribution's survival function Q(λ) = 2 Σ (-1)^(j-1) exp(-2 j² λ²). */
export function kolmogorovSurvival(lambda: number): number {
  if (lambda < 0.2) return 1;
  let sum = 0;
  let sign = 1;
  for (let j = 1; j <= 100; j++) {
    const term = sign * Math.exp(-2 * j * j * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-16) break;
    sign = -sign;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

export interface TestResult {
  statistic: number;
  pValue: number;
}

/** Sorted copy without NaN (NaN marks a missing value). */
export function sortedFinite(values: ArrayLike<number>): Float64Array {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i]!)) n++;
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i]!)) out[k++] = values[i]!;
  return out.sort();
}

/** Two-sample Kolmogorov-Smirnov on sorted samples: the largest CDF gap and its asymptotic p-value. */
export function ksTest(a: Float64Array, b: Float64Array): TestResult {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return { statistic: 0, pValue: 1 };
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    // Ties move both samples past the value before the gap is measured.
    const v = Math.min(a[i]!, b[j]!);
    while (i < n && a[i] === v) i++;
    while (j < m && b[j] === v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  const en = Math.sqrt((n * m) / (n + m));
  return { statistic: d, pValue: kolmogorovSurvival((en + 0.12 + 0.11 / en) * d) };
}

/** Chi-square test of homogeneity on two count vectors over the same categories (empty categories skipped). */
export function chiSquareTest(ref: ArrayLike<number>, cur: ArrayLike<number>): TestResult & { dof: number } {
  let nr = 0;
  let nc = 0;
  for (let k = 0; k < ref.length; k++) {
    nr += ref[k]!;
    nc += cur[k]!;
  }
  if (nr === 0 || nc === 0) return { statistic: 0, pValue: 1, dof: 0 };
  const total = nr + nc;
  let stat = 0;
  let used = 0;
  for (let k = 0; k < ref.length; k++) {
    const col = ref[k]! + cur[k]!;
    if (col === 0) continue;
    used++;
    const er = (col * nr) / total;
    const ec = (col * nc) / total;
    stat += (ref[k]! - er) ** 2 / er + (cur[k]! - ec) ** 2 / ec;
  }
  const dof = Math.max(0, used - 1);
  return { statistic: stat, pValue: chiSquareSurvival(stat, dof), dof };
}

/** Population stability index of two count vectors over the same bins. */
export function psi(ref: ArrayLike<number>, cur: ArrayLike<number>): number {
  let nr = 0;
  let nc = 0;
  for (let k = 0; k < ref.length; k++) {
    nr += ref[k]!;
    nc += cur[k]!;
  }
  if (nr === 0 || nc === 0) return 0;
  let sum = 0;
  for (let k = 0; k < ref.length; k++) {
    const r = Math.max(ref[k]! / nr, PSI_EPSILON);
    const c = Math.max(cur[k]! / nc, PSI_EPSILON);
    sum += (c - r) * Math.log(c / r);
  }
  return sum;
}

/** Bin edges at the reference's deciles (or `bins` quantiles), repeated values merged. */
export function quantileEdges(sorted: Float64Array, bins = 10): number[] {
  const edges: number[] = [];
  if (sorted.length === 0) return edges;
  for (let k = 1; k < bins; k++) {
    const v = sorted[Math.min(sorted.length - 1, Math.floor((k * sorted.length) / bins))]!;
    if (edges.length === 0 || v > edges[edges.length - 1]!) edges.push(v);
  }
  return edges;
}

/** Counts per bin: bin k holds values in (edges[k-1], edges[k]]; the last bin everything above. */
export function binCounts(sorted: Float64Array, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  let k = 0;
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i]!;
    while (k < edges.length && v > edges[k]!) k++;
    counts[k]!++;
  }
  return counts;
}
