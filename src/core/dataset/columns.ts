import { dayNumberOf } from '../features/dates.js';
import { LOCATION_NAMES } from '../features/locations.js';
import { WIND_DIRECTIONS } from '../features/wind.js';
import type { WindDirection } from '../features/wind.js';
import { CONTINUOUS_COLUMNS, WIND_COLUMNS } from './schema.js';
import type { FeatureInput, WeatherRow } from './schema.js';

/** The code of a missing category (Location, a wind direction, RainToday, RainTomorrow). */
export const MISSING = 255;

/**
 * Rows as one typed array per column: what the ETL parses into, the feature pipeline fits and transforms,
 * and the CSV writers read. About 140 bytes a row, against about 1 KB for a row object.
 */
export interface FeatureColumns {
  readonly length: number;
  /** Days since 1970-01-01 (see dayNumber). */
  day: Int32Array;
  /** Position in LOCATION_NAMES, or MISSING. */
  location: Uint8Array;
  /** One column per WIND_COLUMNS entry, in that order: position in WIND_DIRECTIONS, or MISSING. */
  wind: Uint8Array[];
  /** 1 Yes, 0 No, or MISSING. */
  rainToday: Uint8Array;
  /** One column per CONTINUOUS_COLUMNS entry, in that order; NaN is missing (the schema never lets NaN through). */
  num: Float64Array[];
}

/** Labelled rows: the features and RainTomorrow (1 Yes, 0 No). */
export interface WeatherColumns extends FeatureColumns {
  rainTomorrow: Uint8Array;
}

export const LOCATION_CODE: ReadonlyMap<string, number> = new Map(LOCATION_NAMES.map((n, i) => [n, i]));
export const WIND_CODE: ReadonlyMap<string, number> = new Map(WIND_DIRECTIONS.map((d, i) => [d, i]));

const N_NUM = CONTINUOUS_COLUMNS.length;
const N_WIND = WIND_COLUMNS.length;

const yesNoCode = (v: 'Yes' | 'No' | null): number => (v === null ? MISSING : v === 'Yes' ? 1 : 0);
const codeOr = (codes: ReadonlyMap<string, number>, v: string | null): number =>
  v === null ? MISSING : (codes.get(v) ?? MISSING);

/** Empty columns for `n` rows. */
export function allocateColumns(n: number): WeatherColumns {
  return {
    length: n,
    day: new Int32Array(n),
    location: new Uint8Array(n),
    wind: Array.from({ length: N_WIND }, () => new Uint8Array(n)),
    rainToday: new Uint8Array(n),
    rainTomorrow: new Uint8Array(n),
    num: Array.from({ length: N_NUM }, () => new Float64Array(n)),
  };
}

/**
 * Writes a validated row at position `i`. A Date that is not a calendar day throws (as dayAngle does);
 * a Location or direction outside the tables counts as missing.
 */
export function encodeRow(c: WeatherColumns | FeatureColumns, i: number, row: FeatureInput | WeatherRow): void {
  const day = dayNumberOf(row.Date);
  if (day === null) throw new RangeError(`not a calendar day: ${row.Date}`);
  c.day[i] = day;
  c.location[i] = codeOr(LOCATION_CODE, row.Location);
  for (let k = 0; k < N_WIND; k++) c.wind[k]![i] = codeOr(WIND_CODE, row[WIND_COLUMNS[k]!]);
  c.rainToday[i] = yesNoCode(row.RainToday);
  for (let j = 0; j < N_NUM; j++) c.num[j]![i] = row[CONTINUOUS_COLUMNS[j]!] ?? NaN;
  if ('rainTomorrow' in c) c.rainTomorrow[i] = yesNoCode((row as WeatherRow).RainTomorrow ?? null);
}

/** Row objects as columns (requests, tests and other small inputs). */
export function rowsToColumns(rows: readonly (FeatureInput | WeatherRow)[]): WeatherColumns {
  const c = allocateColumns(rows.length);
  for (let i = 0; i < rows.length; i++) encodeRow(c, i, rows[i]!);
  return c;
}

/** The wind direction of a code, null when missing. */
export const windName = (code: number): WindDirection | null => (code === MISSING ? null : WIND_DIRECTIONS[code]!);

const CHUNK = 1 << 16;

/** Columns of one chunk of rows; a builder fills chunks so that growing never copies. */
function chunk(): WeatherColumns {
  return allocateColumns(CHUNK);
}

/**
 * Collects rows of unknown count into fixed chunks (no doubling, so no copy at twice the size), then
 * joins them column by column: the peak is the rows' own size plus one column.
 */
export class WeatherColumnsBuilder {
  private done: WeatherColumns[] = [];
  /** The chunk being filled; the next row goes at `at`. */
  cur: WeatherColumns = chunk();
  at = 0;

  get length(): number {
    return this.done.length * CHUNK + this.at;
  }

  /** Keeps the row written at `at` (by the caller, straight into `cur`). */
  commit(): void {
    if (++this.at === CHUNK) {
      this.done.push(this.cur);
      this.cur = chunk();
      this.at = 0;
    }
  }

  push(row: WeatherRow): void {
    encodeRow(this.cur, this.at, row);
    this.commit();
  }

  /** The rows as exact-length columns; the builder is empty afterwards. */
  finish(): WeatherColumns {
    const n = this.length;
    const parts = [...this.done, this.cur];
    const lengths = parts.map((_, k) => (k < this.done.length ? CHUNK : this.at));
    this.done = [];
    this.cur = chunk();
    this.at = 0;
    // Each column is joined and its chunks dropped before the next, so at most one column exists twice.
    const join = <T extends Int32Array | Uint8Array | Float64Array>(
      make: (len: number) => T,
      take: (p: WeatherColumns) => T,
      drop: (p: WeatherColumns) => void,
    ): T => {
      const out = make(n);
      let o = 0;
      parts.forEach((p, k) => {
        out.set(take(p).subarray(0, lengths[k]!), o);
        o += lengths[k]!;
        drop(p);
      });
      return out;
    };
    const none = new Uint8Array(0);
    const day = join(
      (len) => new Int32Array(len),
      (p) => p.day,
      (p) => (p.day = new Int32Array(0)),
    );
    const bytes = (take: (p: WeatherColumns) => Uint8Array, drop: (p: WeatherColumns) => void) =>
      join((len) => new Uint8Array(len), take, drop);
    const location = bytes(
      (p) => p.location,
      (p) => (p.location = none),
    );
    const rainToday = bytes(
      (p) => p.rainToday,
      (p) => (p.rainToday = none),
    );
    const rainTomorrow = bytes(
      (p) => p.rainTomorrow,
      (p) => (p.rainTomorrow = none),
    );
    const wind = Array.from({ length: N_WIND }, (_, k) =>
      bytes(
        (p) => p.wind[k]!,
        (p) => (p.wind[k] = none),
      ),
    );
    const num = Array.from({ length: N_NUM }, (_, j) =>
      join(
        (len) => new Float64Array(len),
        (p) => p.num[j]!,
        (p) => (p.num[j] = new Float64Array(0)),
      ),
    );
    return { length: n, day, location, wind, rainToday, rainTomorrow, num };
  }
}
