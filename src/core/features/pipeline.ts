import { CONTINUOUS_COLUMNS, WIND_COLUMNS } from '../dataset/schema.js';
import type { ContinuousColumn, FeatureInput, WindColumn } from '../dataset/schema.js';
import { DataError } from '../errors.js';
import { dayAngle } from './dates.js';
import { LOCATIONS } from './locations.js';
import type { Coordinates } from './locations.js';
import { clipBounds, mean, mode, populationStd } from './stats.js';
import type { ClipBounds } from './stats.js';
import { windVector } from './wind.js';
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

const yesNo = (v: 'Yes' | 'No' | null): number => (v === null ? NaN : v === 'Yes' ? 1 : 0);
const num = (v: number | null): number => (v === null ? NaN : v);

/** NaN (missing) fails both comparisons and stays NaN. */
// biome-ignore lint/complexity/useMathMinMax: keeps -0 and the written CSVs byte for byte as they were
const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** A column's clip range; unbounded when the column is not clipped or had no training values. */
function clipRange(p: Pick<InputsPipeline, 'clip'>, col: ContinuousColumn): { lo: number; hi: number } {
  const b = (p.clip as Partial<Record<ContinuousColumn, ClipBounds | null>>)[col];
  return b ?? { lo: -Infinity, hi: Infinity };
}

function clipped(p: Pick<InputsPipeline, 'clip'>, col: ContinuousColumn, v: number): number {
  const { lo, hi } = clipRange(p, col);
  return clamp(v, lo, hi);
}

type RowWriter = (row: FeatureInput, out: Float64Array, at: number) => void;

/**
 * Steps 3-8 of the pipeline (the 27 features before standardization) with the fitted values laid out in
 * arrays once: a served row then costs array reads, not lookups by column name in the pipeline's records.
 */
function unscaledWriter(p: Omit<InputsPipeline, 'scale'>): RowWriter {
  const n = CONTINUOUS_COLUMNS.length;
  // A column without training values stays constant whatever a new row says: the model never saw it vary.
  // Pipelines saved before emptyColumns existed have none.
  const empty = CONTINUOUS_COLUMNS.map((col) => p.emptyColumns?.includes(col) ?? false);
  const ranges = CONTINUOUS_COLUMNS.map((col) => clipRange(p, col));
  const lo = Float64Array.from(ranges, (r) => r.lo);
  const hi = Float64Array.from(ranges, (r) => r.hi);
  const impute = Float64Array.from(CONTINUOUS_COLUMNS, (col) => p.impute.continuous[col]);
  const places = new Map(Object.entries(p.locations));
  const home = p.locations[p.impute.Location]!;
  return (row, out, at) => {
    const rainToday = yesNo(row.RainToday);
    out[at] = Number.isNaN(rainToday) ? p.impute.RainToday : rainToday;
    for (let j = 0; j < n; j++) {
      const raw = empty[j] ? null : row[CONTINUOUS_COLUMNS[j]!];
      const v = raw === null ? NaN : clamp(raw, lo[j]!, hi[j]!);
      out[at + 1 + j] = Number.isNaN(v) ? impute[j]! : v;
    }
    const day = dayAngle(row.Date);
    out[at + 17] = day.cos;
    out[at + 18] = day.sin;
    const where = places.get(row.Location ?? p.impute.Location) ?? home;
    out[at + 19] = where.lat;
    out[at + 20] = where.lon;
    for (let k = 0; k < WIND_COLUMNS.length; k++) {
      const col: WindColumn = WIND_COLUMNS[k]!;
      const w = windVector(row[col] ?? p.impute[col]);
      out[at + 21 + 2 * k] = w.cos;
      out[at + 22 + 2 * k] = w.sin;
    }
  };
}

function column(rows: readonly FeatureInput[], pick: (r: FeatureInput) => number): Float64Array {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = pick(rows[i]!);
  return out;
}

/** Fits the pipeline of SPEC section 4 on training rows only. */
export function fitPipeline(rows: readonly FeatureInput[]): InputsPipeline {
  if (rows.length === 0) throw new DataError('cannot fit the feature pipeline on zero rows');
  const emptyColumns = CONTINUOUS_COLUMNS.filter((col) => rows.every((r) => r[col] === null));
  const clip = {} as Record<ClippedColumn, ClipBounds | null>;
  for (const col of CLIPPED_COLUMNS)
    clip[col] = emptyColumns.includes(col) ? null : clipBounds(column(rows, (r) => num(r[col])));
  const continuous = {} as Record<ContinuousColumn, number>;
  // A station that never measures a column (Albury has no Evaporation) still gets a usable, constant feature.
  for (const col of CONTINUOUS_COLUMNS)
    continuous[col] = emptyColumns.includes(col) ? 0 : mean(column(rows, (r) => clipped({ clip }, col, num(r[col]))));
  const mustMode = <T extends string | number>(name: string, values: Iterable<T | null>): T => {
    const m = mode(values);
    if (m === null)
      throw new DataError(
        `column ${name} has no values in the ${rows.length} training rows; the pipeline cannot impute it`,
      );
    return m;
  };
  const impute: InputsPipeline['impute'] = {
    Location: mustMode(
      'Location',
      rows.map((r) => r.Location),
    ),
    WindGustDir: mustMode(
      'WindGustDir',
      rows.map((r) => r.WindGustDir),
    ),
    WindDir9am: mustMode(
      'WindDir9am',
      rows.map((r) => r.WindDir9am),
    ),
    WindDir3pm: mustMode(
      'WindDir3pm',
      rows.map((r) => r.WindDir3pm),
    ),
    RainToday: mustMode(
      'RainToday',
      rows.map((r) => (r.RainToday === null ? null : yesNo(r.RainToday))),
    ),
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
  const unscaled = new Float64Array(rows.length * N_FEATURES);
  const writeUnscaled = unscaledWriter(partial);
  for (let i = 0; i < rows.length; i++) writeUnscaled(rows[i]!, unscaled, i * N_FEATURES);
  const scaleMean: number[] = [];
  const scaleStd: number[] = [];
  for (let j = 0; j < N_FEATURES; j++) {
    const col = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i++) col[i] = unscaled[i * N_FEATURES + j]!;
    const mu = mean(col);
    const sd = populationStd(col, mu);
    scaleMean.push(mu);
    // A constant column's std is round-off (~1e-14), not signal: record 0 so it is centred only.
    scaleStd.push(sd <= 1e-10 * Math.max(1, Math.abs(mu)) ? 0 : sd);
  }
  return { ...partial, scale: { mean: scaleMean, std: scaleStd } };
}

const writers = new WeakMap<InputsPipeline, RowWriter>();

/** Steps 3-9 for one fitted pipeline, built on first use and kept as long as the pipeline is. */
function rowWriter(p: InputsPipeline): RowWriter {
  let write = writers.get(p);
  if (!write) {
    const unscaled = unscaledWriter(p);
    const mean = Float64Array.from(p.scale.mean);
    // A constant feature has std 0: centre it only, as scikit-learn's StandardScaler does.
    const sd = Float64Array.from(p.scale.std, (s) => s || 1);
    write = (row, out, at) => {
      unscaled(row, out, at);
      for (let j = 0; j < N_FEATURES; j++) out[at + j] = (out[at + j]! - mean[j]!) / sd[j]!;
    };
    writers.set(p, write);
  }
  return write;
}

/** Applies a fitted pipeline to rows: a row-major matrix of rows x 27 standardized features. */
export function transformRows(p: InputsPipeline, rows: readonly FeatureInput[]): Float64Array {
  const out = new Float64Array(rows.length * N_FEATURES);
  const write = rowWriter(p);
  for (let i = 0; i < rows.length; i++) write(rows[i]!, out, i * N_FEATURES);
  return out;
}

/** One row's 27 features, written from `out[at]` on (a buffer the caller reuses). */
export function transformRowInto(p: InputsPipeline, row: FeatureInput, out: Float64Array, at = 0): void {
  rowWriter(p)(row, out, at);
}

export function transformRow(p: InputsPipeline, row: FeatureInput): Float64Array {
  return transformRows(p, [row]);
}
