import { describe, expect, it } from 'vitest';
import { clipBounds, mean, mode, populationStd, present, quantileSorted } from '../../src/core/features/stats.js';

const f64 = (xs: number[]) => Float64Array.from(xs);

describe('quantileSorted (numpy linear interpolation)', () => {
  it('matches numpy.quantile on an even-length array', () => {
    // np.quantile([1,2,3,4], [0,.25,.5,.75,1]) -> [1, 1.75, 2.5, 3.25, 4]
    const s = f64([1, 2, 3, 4]);
    expect(quantileSorted(s, 0)).toBe(1);
    expect(quantileSorted(s, 0.25)).toBeCloseTo(1.75, 12);
    expect(quantileSorted(s, 0.5)).toBeCloseTo(2.5, 12);
    expect(quantileSorted(s, 0.75)).toBeCloseTo(3.25, 12);
    expect(quantileSorted(s, 1)).toBe(4);
  });

  it('matches numpy.quantile on an odd-length array', () => {
    // np.quantile([1,3,5,7,9], [.1,.25,.5,.9]) -> [1.8, 3, 5, 8.2]
    const s = f64([1, 3, 5, 7, 9]);
    expect(quantileSorted(s, 0.1)).toBeCloseTo(1.8, 12);
    expect(quantileSorted(s, 0.25)).toBeCloseTo(3, 12);
    expect(quantileSorted(s, 0.5)).toBeCloseTo(5, 12);
    expect(quantileSorted(s, 0.9)).toBeCloseTo(8.2, 12);
  });

  it('returns the only element for a single value, NaN for none', () => {
    for (const q of [0, 0.25, 0.5, 0.75, 1]) expect(quantileSorted(f64([7.5]), q)).toBe(7.5);
    expect(quantileSorted(f64([]), 0.5)).toBeNaN();
  });
});

describe('clipBounds', () => {
  it('uses the IQR bound when it falls inside the data range (hi) and the min otherwise (lo)', () => {
    // sorted [2, 9, 10, 30, 100]: Q1 = 9, Q3 = 30, IQR = 21
    // lo = max(9 - 63, 2) = 2 (min wins); hi = min(30 + 63, 100) = 93 (IQR wins).
    // Unsorted, multi-digit input also catches a lexicographic sort.
    expect(clipBounds(f64([10, 9, 100, 2, 30]))).toEqual({ lo: 2, hi: 93 });
  });

  it('uses IQR bounds on both sides when both outliers are far out', () => {
    // sorted [-40,1,2,2,3,3,3,4,50]: Q1 = 2, Q3 = 3, IQR = 1 -> [-1, 6]
    expect(clipBounds(f64([3, 1, 50, 2, 3, -40, 2, 3, 4]))).toEqual({ lo: -1, hi: 6 });
    // k = 1.5 -> [0.5, 4.5]
    expect(clipBounds(f64([3, 1, 50, 2, 3, -40, 2, 3, 4]), 1.5)).toEqual({ lo: 0.5, hi: 4.5 });
  });

  it('uses min and max when the data has no outliers', () => {
    // [2,4,4,4,5,5,7,9]: Q1 = 4, Q3 = 5.5, IQR 1.5 -> [-0.5, 10] -> clamped to [2, 9]
    expect(clipBounds(f64([9, 4, 2, 5, 4, 7, 4, 5]))).toEqual({ lo: 2, hi: 9 });
  });

  it('ignores NaN', () => {
    expect(clipBounds(f64([NaN, 10, 9, NaN, 100, 2, 30, NaN]))).toEqual({ lo: 2, hi: 93 });
  });

  it('is unbounded with no values', () => {
    expect(clipBounds(f64([NaN, NaN]))).toEqual({ lo: -Infinity, hi: Infinity });
  });
});

describe('mode', () => {
  it('returns the most frequent value', () => {
    expect(mode(['z', 'a', 'z', 'b'])).toBe('z');
    expect(mode([5, 1, 5, 5, 1])).toBe(5);
  });

  it('breaks ties by the smallest in sort order, whatever the order seen', () => {
    expect(mode(['b', 'a', 'b', 'a', 'c'])).toBe('a');
    expect(mode(['W', 'SE', 'N', 'SE', 'W', 'N'])).toBe('N');
    expect(mode([3, 1, 3, 1])).toBe(1);
    // numeric, not lexicographic, order: 9 < 10
    expect(mode([10, 9, 10, 9])).toBe(9);
    expect(mode([1, 0])).toBe(0);
  });

  it('ignores nulls', () => {
    expect(mode([null, null, null, 'x', 'y', 'x'])).toBe('x');
    expect(mode([null, null])).toBeNull();
    expect(mode([])).toBeNull();
  });
});

describe('mean and populationStd', () => {
  it('divide by n (population std)', () => {
    const xs = f64([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(mean(xs)).toBe(5);
    expect(populationStd(xs)).toBe(2);
    // np.std([1,2,3,4]) = 1.118033988749895 (sample std would be 1.29...)
    expect(populationStd(f64([1, 2, 3, 4]))).toBeCloseTo(1.118033988749895, 14);
  });

  it('ignore NaN', () => {
    const xs = f64([NaN, 2, 4, 4, NaN, 4, 5, 5, 7, 9, NaN]);
    expect(mean(xs)).toBe(5);
    expect(populationStd(xs)).toBe(2);
  });

  it('are NaN with no values', () => {
    expect(mean(f64([]))).toBeNaN();
    expect(mean(f64([NaN]))).toBeNaN();
    expect(populationStd(f64([NaN]))).toBeNaN();
  });

  it('populationStd uses a given centre', () => {
    // around 0: sqrt((1+4+9+16)/4) = sqrt(7.5)
    expect(populationStd(f64([1, 2, 3, 4]), 0)).toBeCloseTo(Math.sqrt(7.5), 14);
  });

  it('present drops NaN and keeps order', () => {
    expect(Array.from(present([3, NaN, 1, NaN, 2]))).toEqual([3, 1, 2]);
  });
});
