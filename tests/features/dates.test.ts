import { describe, expect, it } from 'vitest';
import {
  dayAngle,
  dayAngleOf,
  dayNumber,
  dayNumberOf,
  dayOfYear,
  daysInMonth,
  isLeapYear,
  isoDay,
  parseIsoDay,
} from '../../src/core/features/dates.js';

describe('parseIsoDay', () => {
  it('accepts real calendar days', () => {
    expect(parseIsoDay('2016-02-29')).toEqual({ year: 2016, month: 2, day: 29 });
    expect(parseIsoDay('2000-02-29')).toEqual({ year: 2000, month: 2, day: 29 });
    expect(parseIsoDay('2008-12-01')).toEqual({ year: 2008, month: 12, day: 1 });
    expect(parseIsoDay('2015-04-30')).toEqual({ year: 2015, month: 4, day: 30 });
  });

  it.each([
    '2015-02-29',
    '1900-02-29',
    '2015-13-01',
    '2015-00-10',
    '2015-04-31',
    '2015-01-00',
    '2015-01-32',
    '2015-4-1',
    '15-04-01',
    '2015/04/01',
    '2015-04-01T00:00',
    ' 2015-04-01',
    '',
  ])('rejects %j', (text) => {
    expect(parseIsoDay(text)).toBeNull();
  });
});

describe('calendar helpers', () => {
  it('knows leap years (divisible by 4, not by 100 unless by 400)', () => {
    expect([2016, 2015, 1900, 2000, 2012].map(isLeapYear)).toEqual([true, false, false, true, true]);
    expect(daysInMonth(2016, 2)).toBe(29);
    expect(daysInMonth(2015, 2)).toBe(28);
    expect(daysInMonth(2015, 4)).toBe(30);
    expect(daysInMonth(2015, 12)).toBe(31);
  });

  it('dayOfYear counts the leap day only after February in leap years', () => {
    expect(dayOfYear(2016, 1, 1)).toBe(1);
    expect(dayOfYear(2016, 2, 29)).toBe(60);
    expect(dayOfYear(2016, 3, 1)).toBe(61);
    expect(dayOfYear(2015, 3, 1)).toBe(60);
    expect(dayOfYear(2016, 12, 31)).toBe(366);
    expect(dayOfYear(2015, 12, 31)).toBe(365);
    // 2017-07-01: 31+28+31+30+31+30 + 1 = 182
    expect(dayOfYear(2017, 7, 1)).toBe(182);
  });
});

describe('dayAngle', () => {
  it('is (1, 0) on 1 January', () => {
    for (const d of ['2015-01-01', '2016-01-01']) {
      expect(dayAngle(d).cos).toBe(1);
      expect(dayAngle(d).sin).toBe(0);
    }
  });

  it('divides by 366 in leap years and 365 otherwise', () => {
    const leap = (2 * Math.PI * 365) / 366; // 2016-12-31, day 366
    expect(dayAngle('2016-12-31').cos).toBeCloseTo(Math.cos(leap), 14);
    expect(dayAngle('2016-12-31').sin).toBeCloseTo(Math.sin(leap), 14);
    const common = (2 * Math.PI * 364) / 365; // 2015-12-31, day 365
    expect(dayAngle('2015-12-31').cos).toBeCloseTo(Math.cos(common), 14);
    expect(dayAngle('2015-12-31').sin).toBeCloseTo(Math.sin(common), 14);
    // sin(2 pi 364/365) = -0.017213356..., sin(2 pi 365/366) = -0.017166329...
    expect(dayAngle('2015-12-31').sin).toBeCloseTo(-0.0172133561, 9);
    expect(dayAngle('2016-12-31').sin).toBeCloseTo(-0.0171663296, 9);
    // 1 March: day 61 of 366 vs day 60 of 365
    expect(dayAngle('2016-03-01').cos).toBeCloseTo(Math.cos((2 * Math.PI * 60) / 366), 14);
    expect(dayAngle('2015-03-01').cos).toBeCloseTo(Math.cos((2 * Math.PI * 59) / 365), 14);
  });

  it('puts mid-year near the bottom of the circle', () => {
    // 2015-07-02 is day 183 of 365: angle 2 pi 182/365, just short of pi
    const a = dayAngle('2015-07-02');
    expect(a.cos).toBeCloseTo(Math.cos((2 * Math.PI * 182) / 365), 14);
    expect(a.cos).toBeLessThan(-0.999);
  });

  it('throws on an impossible day', () => {
    expect(() => dayAngle('2015-02-29')).toThrow(RangeError);
  });
});

describe('day numbers', () => {
  it('count days from 1970-01-01 and give back the same YYYY-MM-DD, leap days included', () => {
    expect(dayNumber(1970, 1, 1)).toBe(0);
    expect(dayNumber(2016, 2, 29)).toBe(Date.UTC(2016, 1, 29) / 86_400_000);
    for (let t = Date.UTC(1890, 0, 1); t < Date.UTC(2110, 0, 1); t += 86_400_000 * 3) {
      const iso = new Date(t).toISOString().slice(0, 10);
      expect(isoDay(dayNumberOf(iso)!)).toBe(iso);
      expect(dayAngleOf(t / 86_400_000)).toEqual(dayAngle(iso));
    }
    expect(isoDay(dayNumber(918, 3, 1))).toBe('0918-03-01');
    expect(dayNumberOf('2015-02-29')).toBeNull();
  });
});
