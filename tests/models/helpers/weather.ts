import { weatherCsvText } from '../../helpers/cli.js';
import { CONTINUOUS_COLUMNS } from '../../../src/core/dataset/schema.js';
import type { Matrix } from '../../../src/core/models/matrix.js';

/** The numeric weather columns plus RainToday as 0/1: raw values, NA left missing (NaN). */
export const WEATHER_FEATURES: string[] = ['RainToday', ...CONTINUOUS_COLUMNS];

export interface Labelled {
  X: Matrix;
  y: Float32Array;
}

let cached: Labelled | undefined;

/** Every row of weatherAUS.csv with a RainTomorrow label (142,193 rows). */
export function loadWeather(): Labelled {
  if (cached) return cached;
  const lines = weatherCsvText().split('\n');
  const header = (lines[0] ?? '').trim().split(',');
  const cols = WEATHER_FEATURES.map((name) => header.indexOf(name));
  const label = header.indexOf('RainTomorrow');
  const data: number[] = [];
  const y: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const fields = (lines[i] as string).trim().split(',');
    const target = fields[label];
    if (target !== 'Yes' && target !== 'No') continue;
    y.push(target === 'Yes' ? 1 : 0);
    for (const c of cols) {
      const raw = fields[c] ?? 'NA';
      data.push(raw === 'Yes' ? 1 : raw === 'No' ? 0 : raw === 'NA' || raw === '' ? Number.NaN : Number(raw));
    }
  }
  cached = { X: { rows: y.length, cols: cols.length, data: Float32Array.from(data) }, y: Float32Array.from(y) };
  return cached;
}

/** `count` rows taken every `stride` rows from `start` (the file is sorted by station, so stride mixes them). */
export function weatherRows(start: number, count: number, stride = 5): Labelled {
  const all = loadWeather();
  const X = new Float32Array(count * all.X.cols);
  const y = new Float32Array(count);
  for (let k = 0; k < count; k++) {
    const i = (start + k * stride) % all.X.rows;
    X.set(all.X.data.subarray(i * all.X.cols, (i + 1) * all.X.cols), k * all.X.cols);
    y[k] = all.y[i] as number;
  }
  return { X: { rows: count, cols: all.X.cols, data: X }, y };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** Counts of missing values and of exact -1 values (the wasm build's own missing marker). */
export function specialValues(X: Matrix): { missing: number; minusOne: number } {
  let missing = 0;
  let minusOne = 0;
  for (const v of X.data) {
    if (Number.isNaN(v)) missing++;
    else if (v === -1) minusOne++;
  }
  return { missing, minusOne };
}
