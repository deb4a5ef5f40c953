import type { z } from 'zod';
import { CONTINUOUS_BOUNDS, CONTINUOUS_COLUMNS, WindDirectionSchema, YesNoSchema } from './schema.js';
import { LOCATION_NAMES } from '../features/locations.js';

/**
 * The row schema's rules compiled into per-column checks the columnar reader runs on each cell.
 * They only ever accept: whatever they do not accept goes to the zod schema itself, which decides and
 * words the reason. So schema.ts stays the one source of truth and a rule these checks cannot read
 * (a refinement, an integer check) simply makes every value of that column take the schema's path.
 */
export interface NumberBounds {
  lo: number;
  loInclusive: boolean;
  hi: number;
  hiInclusive: boolean;
}

/** The bounds of a zod number, or null when it holds a check other than plain bounds. */
export function compileNumber(schema: z.ZodNumber): NumberBounds | null {
  const b: NumberBounds = { lo: -Infinity, loInclusive: true, hi: Infinity, hiInclusive: true };
  for (const check of schema._zod.def.checks ?? []) {
    const def = check._zod.def as { check: string; value?: unknown; inclusive?: boolean };
    if (typeof def.value !== 'number') return null;
    if (def.check === 'greater_than' && def.value >= b.lo) {
      b.lo = def.value;
      b.loInclusive = def.inclusive === true;
    } else if (def.check === 'less_than' && def.value <= b.hi) {
      b.hi = def.value;
      b.hiInclusive = def.inclusive === true;
    } else if (def.check !== 'greater_than' && def.check !== 'less_than') return null;
  }
  return b;
}

/** Whether a finite number passes the bounds. */
export function withinBounds(b: NumberBounds, v: number): boolean {
  return (b.loInclusive ? v >= b.lo : v > b.lo) && (b.hiInclusive ? v <= b.hi : v < b.hi);
}

/** Per continuous column (CONTINUOUS_COLUMNS order): its bounds, or null to let the schema judge every value. */
export const NUMBER_CHECKS: readonly (NumberBounds | null)[] = CONTINUOUS_COLUMNS.map((c) =>
  compileNumber(CONTINUOUS_BOUNDS[c]),
);

/** Looks a cell's bytes up among a few ASCII names without making a string of them. */
export class ByteDict {
  private readonly buckets = new Map<number, { bytes: Buffer; code: number }[]>();

  constructor(names: readonly string[]) {
    names.forEach((name, code) => {
      const bytes = Buffer.from(name, 'latin1');
      const h = ByteDict.hash(bytes, 0, bytes.length);
      const list = this.buckets.get(h) ?? [];
      list.push({ bytes, code });
      this.buckets.set(h, list);
    });
  }

  private static hash(buf: Uint8Array, s: number, e: number): number {
    let h = e - s;
    for (let i = s; i < e; i++) h = (Math.imul(h, 31) + buf[i]!) | 0;
    return h;
  }

  /** The code of the name in buf[s, e), or -1. */
  find(buf: Uint8Array, s: number, e: number): number {
    const list = this.buckets.get(ByteDict.hash(buf, s, e));
    if (list === undefined) return -1;
    for (const { bytes, code } of list) {
      if (bytes.length !== e - s) continue;
      let i = 0;
      while (i < bytes.length && bytes[i] === buf[s + i]) i++;
      if (i === bytes.length) return code;
    }
    return -1;
  }
}

/** Station names in LOCATION_NAMES order (the schema's refinement accepts exactly these). */
export const LOCATION_DICT = new ByteDict(LOCATION_NAMES);
/** The schema's compass points, coded by position in its enum (the same order as WIND_DIRECTIONS). */
export const WIND_DICT = new ByteDict(WindDirectionSchema.options);
/** The schema's Yes/No values, coded 0 for No and 1 for Yes (a value the enum lacks is never accepted here). */
export const YES_NO_DICT = new ByteDict(
  ['No', 'Yes'].map((o) => ((YesNoSchema.options as string[]).includes(o) ? o : '')),
);
