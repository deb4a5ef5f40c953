import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ByteDict, compileNumber, NUMBER_CHECKS, withinBounds } from '../../src/core/dataset/cell-checks.js';
import { CONTINUOUS_BOUNDS, CONTINUOUS_COLUMNS, YesNoSchema } from '../../src/core/dataset/schema.js';

describe('per-column checks compiled from the row schema', () => {
  it('accept a value exactly when the zod bounds of its column do', () => {
    CONTINUOUS_COLUMNS.forEach((col, j) => {
      const check = NUMBER_CHECKS[j]!;
      expect(check, col).not.toBeNull();
      const schema = CONTINUOUS_BOUNDS[col];
      const edges = [check.lo, check.hi].filter(Number.isFinite);
      const values = [0, -0, 1, -1, 1e6, -1e6, ...edges.flatMap((e) => [e, e - 1e-9, e + 1e-9, e - 1, e + 1])];
      for (const v of values) expect(withinBounds(check, v), `${col} ${v}`).toBe(schema.safeParse(v).success);
    });
  });

  it('read exclusive bounds, and give up on checks other than bounds', () => {
    const b = compileNumber(z.number().gt(0).lt(10))!;
    expect([0, 1e-9, 9.999, 10].map((v) => withinBounds(b, v))).toEqual([false, true, true, false]);
    expect(compileNumber(z.number().int())).toBeNull();
    expect(compileNumber(z.number().multipleOf(0.5))).toBeNull();
  });

  it('the Yes/No codes follow the schema: 0 No, 1 Yes', () => {
    expect([...YesNoSchema.options].sort()).toEqual(['No', 'Yes']);
  });
});

describe('ByteDict', () => {
  it('finds names by their bytes, and nothing else', () => {
    const d = new ByteDict(['Sydney', 'SydneyAirport', 'N', 'NE']);
    const buf = Buffer.from('xSydneyAirport,N,NE,Sydne,sydney');
    expect(d.find(buf, 1, 7)).toBe(0);
    expect(d.find(buf, 1, 14)).toBe(1);
    expect(d.find(buf, 15, 16)).toBe(2);
    expect(d.find(buf, 17, 19)).toBe(3);
    expect(d.find(buf, 20, 25)).toBe(-1);
    expect(d.find(buf, 26, 32)).toBe(-1);
    expect(d.find(buf, 0, 0)).toBe(-1);
  });
});
