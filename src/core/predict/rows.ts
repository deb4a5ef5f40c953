import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { iterateWeatherCsv, numericCell, textCell } from '../dataset/read-csv.js';
import type { CsvRowResult } from '../dataset/read-csv.js';
import { CONTINUOUS_COLUMNS, RAW_COLUMNS, WeatherRowSchema } from '../dataset/schema.js';
import { unwrapFeatures } from './features.js';

export type InputFormat = 'csv' | 'jsonl';

const NUMERIC = new Set<string>(CONTINUOUS_COLUMNS);

/** A JSON value as the row schema sees a cell: numbers stay, numeric text is parsed, NA and null are missing. */
function jsonCell(column: string, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (NUMERIC.has(column)) return typeof v === 'string' ? numericCell(v) : v;
  // The API takes RainToday as 0/1 as well as Yes/No.
  if (column === 'RainToday' && typeof v === 'number') return v > 0 ? 'Yes' : 'No';
  return typeof v === 'string' ? textCell(v) : v;
}

/** JSON Lines of raw weatherAUS rows (or API bodies), each validated with the row schema; RainTomorrow is ignored. */
export async function* iterateWeatherJsonl(stream: Readable): AsyncGenerator<CsvRowResult> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line++;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = unwrapFeatures(JSON.parse(text));
      } catch {
        yield { line, reason: 'not valid JSON' };
        continue;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        yield { line, reason: 'not a JSON object of features' };
        continue;
      }
      const obj = value as Record<string, unknown>;
      const candidate = Object.fromEntries(
        RAW_COLUMNS.map((c) => [c, c === 'RainTomorrow' ? null : jsonCell(c, obj[c])]),
      );
      const parsed = WeatherRowSchema.safeParse(candidate);
      if (parsed.success) yield { line, row: parsed.data };
      else {
        const issue = parsed.error.issues[0]!;
        yield { line, reason: `${issue.path.join('.')}: ${issue.message}` };
      }
    }
  } finally {
    lines.close();
    if (!stream.readableEnded) stream.destroy();
  }
}

/** Rows of a batch input in either format, with their 1-based source lines. */
export function iterateInputRows(stream: Readable, name: string, format: InputFormat): AsyncGenerator<CsvRowResult> {
  if (format === 'jsonl') return iterateWeatherJsonl(stream);
  return iterateWeatherCsv({ stream, name }, { scope: 'predict', ignoreColumns: ['RainTomorrow'], perLine: true });
}
