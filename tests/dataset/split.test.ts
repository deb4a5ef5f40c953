import { describe, expect, it } from 'vitest';
import { seededRandom, shuffleInPlace } from '../../src/core/dataset/random.js';
import {
  allocate,
  dateLocationRanks,
  stratifiedSplit,
  stratifiedSplitRanked,
  testCount,
  timeSplit,
  timeSplitDays,
} from '../../src/core/dataset/split.js';
import { dayNumberOf, isoDay } from '../../src/core/features/dates.js';
import { LOCATION_NAMES } from '../../src/core/features/locations.js';
import type { Split } from '../../src/core/dataset/split.js';

/** 1000 labels, 223 of them 1, spread deterministically (not sorted by class). */
const LABELS = Array.from({ length: 1000 }, (_, i) => ((i * 37) % 1000 < 223 ? 1 : 0));

function expectPartition(s: Split, n: number) {
  const train = Array.from(s.train);
  const test = Array.from(s.test);
  const ascending = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! < x);
  expect(ascending(train)).toBe(true);
  expect(ascending(test)).toBe(true);
  expect([...train, ...test].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
}

describe('testCount and allocate', () => {
  it('rounds the test size up', () => {
    expect(testCount(142193, 0.2)).toBe(28439);
    expect(testCount(10, 0.25)).toBe(3);
    expect(testCount(10, 0.2)).toBe(2);
    expect(testCount(7, 0.5)).toBe(4);
  });

  it('allocates by largest remainder', () => {
    // 26 of [66, 37]: exact 16.66, 9.34 -> floors 16, 9 -> the extra row to class 0
    expect(allocate(26, [66, 37])).toEqual([17, 9]);
    // 7 of [10, 6, 4]: exact 3.5, 2.1, 1.4 -> [4, 2, 1]
    expect(allocate(7, [10, 6, 4])).toEqual([4, 2, 1]);
    // equal remainders go to the lower class index: 5 of [1, 9] -> exact .5, 4.5 -> [1, 4]
    expect(allocate(5, [1, 9])).toEqual([1, 4]);
    expect(allocate(10, [5, 3, 2])).toEqual([5, 3, 2]);
    expect(allocate(0, [5, 3])).toEqual([0, 0]);
  });

  it('always sums to the total and stays within one of the exact share', () => {
    const random = seededRandom(7);
    for (let trial = 0; trial < 200; trial++) {
      const counts = Array.from({ length: 1 + Math.floor(random() * 5) }, () => 1 + Math.floor(random() * 50));
      const n = counts.reduce((a, b) => a + b, 0);
      const total = Math.floor(random() * (n + 1));
      const out = allocate(total, counts);
      expect(out.reduce((a, b) => a + b, 0)).toBe(total);
      out.forEach((o, i) => {
        expect(Math.abs(o - (total * counts[i]!) / n)).toBeLessThan(1);
        expect(o).toBeLessThanOrEqual(counts[i]!);
      });
    }
  });
});

describe('stratifiedSplit', () => {
  it('takes ceil(test_size x n) test rows with class shares within one row', () => {
    for (const size of [0.2, 0.25, 0.333]) {
      const s = stratifiedSplit(LABELS, size, 42);
      const nTest = Math.ceil(size * 1000);
      expect(s.test.length).toBe(nTest);
      expect(s.train.length).toBe(1000 - nTest);
      const ones = Array.from(s.test).filter((i) => LABELS[i] === 1).length;
      expect(Math.abs(ones - (nTest * 223) / 1000)).toBeLessThan(1);
      expectPartition(s, 1000);
    }
    // 0.2 of 1000 with 223 positives: exactly 200 test rows, 44.6 -> 45 positives
    const s = stratifiedSplit(LABELS, 0.2, 42);
    expect(Array.from(s.test).filter((i) => LABELS[i] === 1).length).toBe(45);
  });

  it('handles an odd size where ceil matters', () => {
    const labels = LABELS.slice(0, 103);
    const s = stratifiedSplit(labels, 0.25, 1);
    expect(s.test.length).toBe(26);
    expectPartition(s, 103);
  });

  it('is reproducible for a seed and changes with it', () => {
    const a = stratifiedSplit(LABELS, 0.2, 42);
    const b = stratifiedSplit(Uint8Array.from(LABELS), 0.2, 42);
    const c = stratifiedSplit(LABELS, 0.2, 43);
    expect(Array.from(b.test)).toEqual(Array.from(a.test));
    expect(Array.from(c.test)).not.toEqual(Array.from(a.test));
    expect(c.test.length).toBe(a.test.length);
  });

  it('does not simply take the first or last rows of each class', () => {
    const s = stratifiedSplit(LABELS, 0.2, 42);
    const test = Array.from(s.test);
    expect(test[0]).toBeLessThan(100);
    expect(test[test.length - 1]).toBeGreaterThan(900);
  });

  it('works with more than two classes', () => {
    const labels = Array.from({ length: 90 }, (_, i) => i % 3);
    const s = stratifiedSplit(labels, 0.1, 5);
    expect(s.test.length).toBe(9);
    for (const k of [0, 1, 2]) expect(Array.from(s.test).filter((i) => labels[i] === k).length).toBe(3);
    expectPartition(s, 90);
  });
});

describe('timeSplit', () => {
  it('puts the latest dates in test, keeping index order', () => {
    const dates = [
      '2010-05-01',
      '2017-01-01',
      '2009-01-01',
      '2016-12-31',
      '2012-03-03',
      '2017-06-25',
      '2008-12-01',
      '2011-11-11',
    ];
    const s = timeSplit(dates, 0.3); // ceil(2.4) = 3 test rows: 2017-06-25, 2017-01-01, 2016-12-31
    expect(Array.from(s.test)).toEqual([1, 3, 5]);
    expect(Array.from(s.train)).toEqual([0, 2, 4, 6, 7]);
    const maxTrain = Array.from(s.train)
      .map((i) => dates[i]!)
      .sort()
      .pop()!;
    for (const i of s.test) expect(dates[i]! >= maxTrain).toBe(true);
  });

  it('breaks ties at the boundary by source order (later rows to test)', () => {
    const dates = ['2020-01-02', '2020-01-01', '2020-01-03', '2020-01-02'];
    expect(Array.from(timeSplit(dates, 0.5).test)).toEqual([2, 3]);
  });
});

describe('seededRandom (mulberry32)', () => {
  it('matches a reference mulberry32', () => {
    // computed with an independent Python port of mulberry32
    const r = seededRandom(42);
    expect([r(), r(), r()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    const z = seededRandom(0);
    expect([z(), z()]).toEqual([0.26642920868471265, 0.0003297457005828619]);
  });

  it('stays in [0, 1)', () => {
    const r = seededRandom(123);
    for (let i = 0; i < 10000; i++) {
      const x = r();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });

  it('shuffleInPlace permutes deterministically', () => {
    const a = Array.from({ length: 50 }, (_, i) => i);
    const b = [...a];
    shuffleInPlace(a, seededRandom(9));
    shuffleInPlace(b, seededRandom(9));
    expect(a).toEqual(b);
    expect(a).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('the split on columns', () => {
  const random = seededRandom(11);
  const n = 3000;
  const days = Int32Array.from({ length: n }, () => dayNumberOf('2010-01-01')! + Math.floor(random() * 400));
  const locations = Uint8Array.from({ length: n }, () => Math.floor(random() * LOCATION_NAMES.length));
  const labels = Uint8Array.from({ length: n }, () => (random() < 0.22 ? 1 : 0));
  const keys = Array.from(days, (d, i) => `${isoDay(d)}|${LOCATION_NAMES[locations[i]!]}`);

  it('stratifiedSplitRanked with dateLocationRanks is stratifiedSplit on Date|Location keys', () => {
    for (const [size, seed] of [
      [0.2, 42],
      [0.33, 7],
      [0.05, 1],
    ] as const) {
      const ranks = dateLocationRanks(seed, days, locations, isoDay, (c) => LOCATION_NAMES[c]!);
      expect(stratifiedSplitRanked(labels, size, ranks)).toEqual(stratifiedSplit(labels, size, seed, keys));
    }
  });

  it('keeps ties in row order, as the comparator did', () => {
    const same = new Uint32Array(10).fill(5);
    const s = stratifiedSplitRanked(Uint8Array.from([0, 0, 1, 0, 1, 0, 0, 1, 0, 0]), 0.3, same);
    expect(Array.from(s.test)).toEqual([0, 1, 2]);
  });

  it('timeSplitDays is timeSplit on the dates as text', () => {
    const texts = Array.from(days, isoDay);
    for (const size of [0.2, 0.5, 0.01]) expect(timeSplitDays(days, size)).toEqual(timeSplit(texts, size));
  });
});
