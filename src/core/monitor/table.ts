import type { Readable } from 'node:stream';
import { csvRecordBatches } from '../dataset/csv-records.js';
import { numericCell, textCell } from '../dataset/read-csv.js';
import { CONTINUOUS_COLUMNS, FEATURE_INPUT_COLUMNS } from '../dataset/schema.js';
import type { ContinuousColumn, FeatureInput } from '../dataset/schema.js';
import { DataError } from '../errors.js';
import type { InputsPipeline } from '../features/pipeline.js';
import { LOCATIONS } from '../features/locations.js';
import { WIND_DIRECTIONS } from '../features/wind.js';

/** The categorical inputs; every other input but Date is continuous. */
export const CATEGORICAL_COLUMNS = ['Location', 'WindGustDir', 'WindDir9am', 'WindDir3pm', 'RainToday'] as const;
export type CategoricalColumn = (typeof CATEGORICAL_COLUMNS)[number];

/** The 21 inputs drift is measured on: the raw API fields but Date, as a user sends them. */
export const DRIFT_FEATURES: readonly string[] = [...CONTINUOUS_COLUMNS, ...CATEGORICAL_COLUMNS];

/**
 * Rows held by column, read leniently: a value out of the API's bounds is kept as it is (it is drift, not
 * an error), a value that is no number at all counts as missing. Continuous values are float32, NaN missing.
 */
export interface Table {
  n: number;
  num: Record<ContinuousColumn, Float32Array>;
  cat: Record<CategoricalColumn, Array<string | null>>;
  date: Array<string | null>;
  /** RainTomorrow as 1/0, -1 where unknown. */
  label: Int8Array;
  /** The probability a server logged with the row, NaN when not logged. */
  logged: Float32Array;
}

export class TableBuilder {
  private cap = 1024;
  n = 0;
  private num = Object.fromEntries(CONTINUOUS_COLUMNS.map((c) => [c, new Float32Array(1024)])) as Record<
    ContinuousColumn,
    Float32Array
  >;
  private cat = Object.fromEntries(CATEGORICAL_COLUMNS.map((c) => [c, [] as Array<string | null>])) as Record<
    CategoricalColumn,
    Array<string | null>
  >;
  private date: Array<string | null> = [];
  private label = new Int8Array(1024);
  private logged = new Float32Array(1024);

  private grow(): void {
    this.cap *= 2;
    const bigger = <T extends Float32Array | Int8Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(this.cap);
      b.set(a);
      return b;
    };
    for (const c of CONTINUOUS_COLUMNS) this.num[c] = bigger(this.num[c]);
    this.label = bigger(this.label);
    this.logged = bigger(this.logged);
  }

  /** One row: `get` gives a column's value as read (a string, a number or nothing). */
  push(get: (column: string) => unknown, label: number, probability = Number.NaN): void {
    if (this.n === this.cap) this.grow();
    const i = this.n++;
    for (const c of CONTINUOUS_COLUMNS) this.num[c][i] = toNumber(get(c));
    for (const c of CATEGORICAL_COLUMNS) this.cat[c].push(toCategory(c, get(c)));
    const d = get('Date');
    this.date.push(typeof d === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(d) ? d : null);
    this.label[i] = label;
    this.logged[i] = probability;
  }

  build(): Table {
    const n = this.n;
    return {
      n,
      num: Object.fromEntries(CONTINUOUS_COLUMNS.map((c) => [c, this.num[c].slice(0, n)])) as Table['num'],
      cat: this.cat,
      date: this.date,
      label: this.label.slice(0, n),
      logged: this.logged.slice(0, n),
    };
  }
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : Number.NaN;
  if (typeof v === 'string') {
    const x = numericCell(v);
    return x === null ? Number.NaN : x;
  }
  return Number.NaN;
}

function toCategory(column: CategoricalColumn, v: unknown): string | null {
  // The API takes RainToday as 0/1 too; a data set writes Yes/No.
  if (column === 'RainToday' && typeof v === 'number') return v > 0 ? 'Yes' : 'No';
  if (typeof v !== 'string') return null;
  return textCell(v);
}

/** RainTomorrow as read: 1 for Yes, 0 for No, -1 for anything else. */
export function labelOf(v: unknown): number {
  return v === 'Yes' || v === 1 || v === '1' ? 1 : v === 'No' || v === 0 || v === '0' ? 0 : -1;
}

/** Appends a weatherAUS-shaped CSV (the 22 inputs, RainTomorrow optional) to a table. */
export async function readCsvInto(builder: TableBuilder, source: Readable, name: string): Promise<void> {
  let index: Map<string, number> | null = null;
  for await (const records of csvRecordBatches(source)) {
    for (const record of records) {
      if (!Array.isArray(record)) continue;
      if (record.length === 1 && record[0] === '') continue;
      if (index === null) {
        index = new Map(record.map((h, i) => [h.trim(), i]));
        const missing = FEATURE_INPUT_COLUMNS.filter((c) => !index!.has(c));
        if (missing.length > 0)
          throw new DataError(
            `monitor: ${name} lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; expected the weatherAUS header`,
          );
        continue;
      }
      const at = index;
      const y = at.get('RainTomorrow');
      builder.push(
        (c) => {
          const j = at.get(c);
          return j === undefined ? undefined : record[j];
        },
        y === undefined ? -1 : labelOf(record[y]?.trim()),
      );
    }
  }
  if (index === null) throw new DataError(`monitor: ${name} is empty; expected the weatherAUS header and rows`);
}

const WIND = new Set<string>(WIND_DIRECTIONS);

/** Row i as the feature pipeline takes it: values it cannot take (an unknown station) become missing. */
export function featureInput(t: Table, i: number, pipeline: InputsPipeline): FeatureInput {
  const row: Record<string, unknown> = { Date: t.date[i] ?? '2000-01-01' };
  for (const c of CONTINUOUS_COLUMNS) {
    const v = t.num[c][i]!;
    row[c] = Number.isNaN(v) ? null : v;
  }
  const loc = t.cat.Location[i];
  row.Location = loc && Object.hasOwn(LOCATIONS, loc) ? loc : pipeline.impute.Location;
  for (const c of ['WindGustDir', 'WindDir9am', 'WindDir3pm'] as const) {
    const v = t.cat[c][i];
    row[c] = v && WIND.has(v) ? v : null;
  }
  const rt = t.cat.RainToday[i];
  row.RainToday = rt === 'Yes' || rt === 'No' ? rt : null;
  return row as FeatureInput;
}
