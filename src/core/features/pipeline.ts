import { allocateColumns, encodeRow, MISSING, rowsToColumns } from '../dataset/columns.js';
import type { FeatureColumns } from '../dataset/columns.js';
import { CONTINUOUS_COLUMNS, WIND_COLUMNS } from '../dataset/schema.js';
import type { ContinuousColumn, FeatureInput } from '../dataset/schema.js';
import { DataError } from '../errors.js';
import { dayAngleOf } from './dates.js';
import { LOCATION_NAMES, LOCATIONS } from './locations.js';
import type { Coordinates } from './locations.js';
import { clipBounds, mean } from './stats.js';
import type { ClipBounds } from './stats.js';
import { WIND_DIRECTIONS, windVector } from './wind.js';
import type { WindDirection } from './wind.js';

/** The 27 model features, in the order the model sees them. */
export const FEATURE_NAMES = [
  'RainToday',
  ...CONTINUOUS_COLUMNS,
  'DayCos',
  'DaySin',
  'Lat',
  'Lon',
  'WindGustDirCos',
  'WindGustDirSin',
  'WindDir9amCos',
  'WindDir9amSin',
  'WindDir3pmCos',
  'WindDir3pmSin',
] as const;
export const N_FEATURES = FEATURE_NAMES.length;

export const CLIPPED_COLUMNS = ['Rainfall', 'Evaporation', 'WindGustSpeed', 'WindSpeed9am'] as const;
type ClippedColumn = (typeof CLIPPED_COLUMNS)[number];

/** Every value fitted on the training rows; serving applies exactly this. */
export interface InputsPipeline {
  kind: 'rainops-inputs-pipeline';
  version: 1;
  features: string[];
  /** Null when the column had no training values (nothing to clip against). */
  clip: Record<ClippedColumn, ClipBounds | null>;
  /** Continuous columns without a single training value: imputed as 0, so the feature is constant. */
  emptyColumns: string[];
  impute: {
    Location: string;
    WindGustDir: WindDirection;
    WindDir9am: WindDirection;
    WindDir3pm: WindDirection;
    RainToday: number;
    continuous: Record<ContinuousColumn, number>;
  };
  locations: Record<string, Coordinates>;
  scale: { mean: number[]; std: number[] };
}

const num = (v: number | null): number => (v === null ? NaN : v);

/** NaN (missing) fails both comparisons and stays NaN. */
// biome-ignore lint/complexity/useMathMinMax: keeps -0 and the written CSVs byte for byte as they were
const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** A column's clip range; unbounded when the column is not clipped or had no training values. */
function clipRange(p: Pick<InputsPipeline, 'clip'>, col: ContinuousColumn): { lo: number; hi: number } {
  const b = (p.clip as Partial<Record<ContinuousColumn, ClipBounds | null>>)[col];
  return b ?? { lo: -Infinity, hi: Infinity };
}

/** Writes one row's 27 features from `out[at]` on. */
export type FeatureWriter = (c: FeatureColumns, i: number, out: Float64Array, at: number) => void;

/**
 * Steps 3-8 of the pipeline (the 27 features before standardization) with the fitted values laid out in
 * arrays once: a row then costs array reads, not lookups by column name in the pipeline's records.
 */
function unscaledWriter(p: Omit<InputsPipeline, 'scale'>): FeatureWriter {
  const n = CONTINUOUS_COLUMNS.length;
  // A column without training values stays constant whatever a new row says: the model never saw it vary.
  // Pipelines saved before emptyColumns existed have none.
  const empty = Uint8Array.from(CONTINUOUS_COLUMNS, (col) => (p.emptyColumns?.includes(col) ? 1 : 0));
  const ranges = CONTINUOUS_COLUMNS.map((col) => clipRange(p, col));
  const lo = Float64Array.from(ranges, (r) => r.lo);
  const hi = Float64Array.from(ranges, (r) => r.hi);
  const impute = Float64Array.from(CONTINUOUS_COLUMNS, (col) => p.impute.continuous[col]);
  // A station the pipeline's own table lacks, or a missing one, sits where the most frequent station does.
  const home = p.locations[p.impute.Location]!;
  const place = (name: string) => (Object.hasOwn(p.locations, name) ? p.locations[name]! : home);
  const lat = Float64Array.from(LOCATION_NAMES, (name) => place(name).lat);
  const lon = Float64Array.from(LOCATION_NAMES, (name) => place(name).lon);
  const windCos = Float64Array.from(WIND_DIRECTIONS, (d) => windVector(d).cos);
  const windSin = Float64Array.from(WIND_DIRECTIONS, (d) => windVector(d).sin);
  const windImpute = Uint8Array.from(WIND_COLUMNS, (col) => WIND_DIRECTIONS.indexOf(p.impute[col]));
  const rainToday = p.impute.RainToday;
  return (c, i, out, at) => {
    const rt = c.rainToday[i]!;
    out[at] = rt === MISSING ? rainToday : rt;
    for (let j = 0; j < n; j++) {
      const v = empty[j] ? NaN : clamp(c.num[j]![i]!, lo[j]!, hi[j]!);
      out[at + 1 + j] = Number.isNaN(v) ? impute[j]! : v;
    }
    const day = dayAngleOf(c.day[i]!);
    out[at + 17] = day.cos;
    out[at + 18] = day.sin;
    const loc = c.location[i]!;
    out[at + 19] = loc === MISSING ? home.lat : lat[loc]!;
    out[at + 20] = loc === MISSING ? home.lon : lon[loc]!;
    for (let k = 0; k < WIND_COLUMNS.length; k++) {
      const w = c.wind[k]![i]!;
      const d = w === MISSING ? windImpute[k]! : w;
      out[at + 21 + 2 * k] = windCos[d]!;
      out[at + 22 + 2 * k] = windSin[d]!;
    }
  };
}

/** The rows of `c` at positions `rows` (all rows when null). */
type RowSet = ArrayLike<number> | null;
const sizeOf = (c: FeatureColumns, rows: RowSet) => (rows === null ? c.length : rows.length);
const rowAt = (rows: RowSet, k: number) => (rows === null ? k : rows[k]!);

function gather(c: FeatureColumns, rows: RowSet, j: number, f: (v: number) => number): Float64Array {
  const col = c.num[j]!;
  const out = new Float64Array(sizeOf(c, rows));
  for (let k = 0; k < out.length; k++) out[k] = f(col[rowAt(rows, k)]!);
  return out;
}

/** The most frequent code among the rows; ties go to the smallest name (SPEC section 4); null without values. */
function modeCode(codes: Uint8Array, rows: RowSet, n: number, name: (code: number) => string | number): number | null {
  const counts = new Float64Array(MISSING);
  for (let k = 0; k < n; k++) {
    const v = codes[rowAt(rows, k)]!;
    if (v !== MISSING) counts[v]!++;
  }
  let best: number | null = null;
  for (let v = 0; v < counts.length; v++) {
    const cnt = counts[v]!;
    if (cnt === 0) continue;
    if (best === null || cnt > counts[best]! || (cnt === counts[best]! && name(v) < name(best))) best = v;
  }
  return best;
}

/** Fits the pipeline of SPEC section 4 on training rows only. */
export function fitPipeline(rows: readonly FeatureInput[]): InputsPipeline {
  return fitColumns(rowsToColumns(rows), null);
}

/** Fits the pipeline of SPEC section 4 on the rows of `c` at positions `rows` (ascending; all rows when null). */
export function fitColumns(c: FeatureColumns, rows: RowSet): InputsPipeline {
  const n = sizeOf(c, rows);
  if (n === 0) throw new DataError('cannot fit the feature pipeline on zero rows');
  const emptyColumns = CONTINUOUS_COLUMNS.filter((_, j) => {
    const col = c.num[j]!;
    for (let k = 0; k < n; k++) if (!Number.isNaN(col[rowAt(rows, k)]!)) return false;
    return true;
  });
  const clip = {} as Record<ClippedColumn, ClipBounds | null>;
  for (const col of CLIPPED_COLUMNS)
    clip[col] = emptyColumns.includes(col) ? null : clipBounds(gather(c, rows, CONTINUOUS_COLUMNS.indexOf(col), num));
  const continuous = {} as Record<ContinuousColumn, number>;
  // A station that never measures a column (Albury has no Evaporation) still gets a usable, constant feature.
  CONTINUOUS_COLUMNS.forEach((col, j) => {
    const { lo, hi } = clipRange({ clip }, col);
    continuous[col] = emptyColumns.includes(col) ? 0 : mean(gather(c, rows, j, (v) => clamp(v, lo, hi)));
  });
  const mustMode = <T>(name: string, codes: Uint8Array, label: (code: number) => T & (string | number)): T => {
    const m = modeCode(codes, rows, n, label);
    if (m === null)
      throw new DataError(`column ${name} has no values in the ${n} training rows; the pipeline cannot impute it`);
    return label(m);
  };
  const wind = (k: number) => mustMode(WIND_COLUMNS[k]!, c.wind[k]!, (code) => WIND_DIRECTIONS[code]!);
  const impute: InputsPipeline['impute'] = {
    Location: mustMode('Location', c.location, (code) => LOCATION_NAMES[code]!),
    WindGustDir: wind(0),
    WindDir9am: wind(1),
    WindDir3pm: wind(2),
    RainToday: mustMode('RainToday', c.rainToday, (code) => code),
    continuous,
  };
  const partial = {
    kind: 'rainops-inputs-pipeline' as const,
    version: 1 as const,
    features: [...FEATURE_NAMES],
    clip,
    emptyColumns,
    impute,
    locations: { ...LOCATIONS },
  };
  const { mean: scaleMean, std } = featureMoments(unscaledWriter(partial), c, rows, n);
  // A constant column's std is round-off (~1e-14), not signal: record 0 so it is centred only.
  const scaleStd = std.map((sd, j) => (sd <= 1e-10 * Math.max(1, Math.abs(scaleMean[j]!)) ? 0 : sd));
  return { ...partial, scale: { mean: scaleMean, std: scaleStd } };
}

/**
 * The mean and population std of each unscaled feature over the rows, a block of rows at a time (never the
 * whole matrix). Sums run over the rows in order, exactly as stats.ts's mean and populationStd do.
 */
function featureMoments(
  write: FeatureWriter,
  c: FeatureColumns,
  rows: RowSet,
  n: number,
): { mean: number[]; std: number[] } {
  const BLOCK = 1024;
  const block = new Float64Array(BLOCK * N_FEATURES);
  const pass = (visit: (v: number, j: number) => void) => {
    for (let from = 0; from < n; from += BLOCK) {
      const size = Math.min(BLOCK, n - from);
      for (let k = 0; k < size; k++) write(c, rowAt(rows, from + k), block, k * N_FEATURES);
      for (let k = 0; k < size; k++) for (let j = 0; j < N_FEATURES; j++) visit(block[k * N_FEATURES + j]!, j);
    }
  };
  const sum = new Float64Array(N_FEATURES);
  const count = new Float64Array(N_FEATURES);
  pass((v, j) => {
    if (!Number.isNaN(v)) {
      sum[j]! += v;
      count[j]!++;
    }
  });
  const mu = Array.from(sum, (s, j) => (count[j] === 0 ? NaN : s / count[j]!));
  const sq = new Float64Array(N_FEATURES);
  pass((v, j) => {
    if (!Number.isNaN(v)) sq[j]! += (v - mu[j]!) * (v - mu[j]!);
  });
  return { mean: mu, std: Array.from(sq, (s, j) => (count[j] === 0 ? NaN : Math.sqrt(s / count[j]!))) };
}

const writers = new WeakMap<InputsPipeline, FeatureWriter>();

/** Steps 3-9 for one fitted pipeline, built on first use and kept as long as the pipeline is. */
export function featureWriter(p: InputsPipeline): FeatureWriter {
  let write = writers.get(p);
  if (!write) {
    const unscaled = unscaledWriter(p);
    const mean = Float64Array.from(p.scale.mean);
    // A constant feature has std 0: centre it only, as scikit-learn's StandardScaler does.
    const sd = Float64Array.from(p.scale.std, (s) => s || 1);
    write = (c, i, out, at) => {
      unscaled(c, i, out, at);
      for (let j = 0; j < N_FEATURES; j++) out[at + j] = (out[at + j]! - mean[j]!) / sd[j]!;
    };
    writers.set(p, write);
  }
  return write;
}

/** Applies a fitted pipeline to rows: a row-major matrix of rows x 27 standardized features. */
export function transformRows(p: InputsPipeline, rows: readonly FeatureInput[]): Float64Array {
  const c = rowsToColumns(rows);
  const out = new Float64Array(rows.length * N_FEATURES);
  const write = featureWriter(p);
  for (let i = 0; i < rows.length; i++) write(c, i, out, i * N_FEATURES);
  return out;
}

// One row's columns, reused: a served row is encoded and transformed synchronously, so no two share it at once.
const one = allocateColumns(1);

/** One row's 27 features, written from `out[at]` on (a buffer the caller reuses). */
export function transformRowInto(p: InputsPipeline, row: FeatureInput, out: Float64Array, at = 0): void {
  encodeRow(one, 0, row);
  featureWriter(p)(one, 0, out, at);
}

export function transformRow(p: InputsPipeline, row: FeatureInput): Float64Array {
  return transformRows(p, [row]);
}
