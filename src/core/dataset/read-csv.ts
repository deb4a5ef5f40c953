import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { DataError } from '../errors.js';
import { RAW_COLUMNS, WeatherRowSchema } from './schema.js';
import type { WeatherRow } from './schema.js';

export interface ReadOptions {
  /** Keep rows dated on or before this day (YYYY-MM-DD). */
  until?: string | undefined;
  /** Any row that fails the schema is an error naming its line. */
  strict?: boolean | undefined;
  /** Columns that may be absent (prediction inputs have no RainTomorrow). */
  optionalColumns?: readonly string[];
}

export interface ReadResult {
  rows: WeatherRow[];
  /** 1-based line of each kept row in the source, for messages. */
  lines: number[];
  /** Data rows in the file. */
  total: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  afterUntil: number;
}

const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** A numeric cell: NA and empty are null; garbage becomes NaN, which the schema rejects as "expected a number". */
function num(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (t === '' || t === 'NA') return null;
  return DECIMAL.test(t) ? Number(t) : NaN;
}

// Categorical cells repeat a few thousand values; sharing one string per value keeps memory and GC low.
const interned = new Map<string, string>();
function str(text: string | undefined): string | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (t === '' || t === 'NA') return null;
  const known = interned.get(t);
  if (known !== undefined) return known;
  if (interned.size < 50_000) interned.set(t, t);
  return t;
}

/** One record as the row schema sees it, built as one literal so V8 keeps its shape and placement. */
function candidate(record: string[], index: number[]): Record<(typeof RAW_COLUMNS)[number], string | number | null> {
  const at = (j: number) => (index[j]! < 0 ? undefined : record[index[j]!]);
  return {
    Date: str(at(0)), Location: str(at(1)), MinTemp: num(at(2)), MaxTemp: num(at(3)), Rainfall: num(at(4)),
    Evaporation: num(at(5)), Sunshine: num(at(6)), WindGustDir: str(at(7)), WindGustSpeed: num(at(8)),
    WindDir9am: str(at(9)), WindDir3pm: str(at(10)), WindSpeed9am: num(at(11)), WindSpeed3pm: num(at(12)),
    Humidity9am: num(at(13)), Humidity3pm: num(at(14)), Pressure9am: num(at(15)), Pressure3pm: num(at(16)),
    Cloud9am: num(at(17)), Cloud3pm: num(at(18)), Temp9am: num(at(19)), Temp3pm: num(at(20)),
    RainToday: str(at(21)), RainTomorrow: str(at(22)),
  };
}

/** Streams a weatherAUS-shaped CSV (a path, or a stream named for messages), validating each row with the shared row schema. */
export async function readWeatherCsv(input: string | { stream: Readable; name: string }, opts: ReadOptions = {}): Promise<ReadResult> {
  const path = typeof input === 'string' ? input : input.name;
  const name = basename(path);
  const source = typeof input === 'string' ? createReadStream(input, { highWaterMark: 1 << 20 }) : input.stream;
  const parser = source.pipe(
    parse({ bom: true, relax_column_count: true, skip_empty_lines: true, trim: false, info: true }),
  );
  // pipe() does not forward a read error (a missing file, a folder) to the parser: do it here.
  source.on('error', (err: Error) => parser.destroy(err));
  const result: ReadResult = { rows: [], lines: [], total: 0, rejected: 0, rejectedByReason: {}, afterUntil: 0 };
  let index: number[] | null = null;
  let line = 1;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (index === null) {
        index = headerIndex(record, name, opts.optionalColumns ?? []);
        continue;
      }
      line = info.lines;
      result.total++;
      const row = candidate(record, index);
      const parsed = WeatherRowSchema.safeParse(row);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const reason = `${issue.path.join('.')}: ${issue.message}`;
        if (opts.strict) {
          throw new DataError(`etl: ${name} line ${line}: ${reason}; fix the row or run without --strict to skip rejected rows`);
        }
        result.rejected++;
        result.rejectedByReason[reason] = (result.rejectedByReason[reason] ?? 0) + 1;
        continue;
      }
      if (opts.until !== undefined && parsed.data.Date > opts.until) {
        result.afterUntil++;
        continue;
      }
      // The schema only checks (no transforms), so the candidate is the validated row; zod's copy dies young.
      result.rows.push(row as WeatherRow);
      result.lines.push(line);
    }
  } catch (err) {
    if (err instanceof DataError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(`etl: source ${path} does not exist; pass --source with a path to weatherAUS.csv`);
    if (code === 'EISDIR') throw new DataError(`etl: source ${path} is a folder; pass --source with a CSV file`);
    if (typeof code === 'string' && code.startsWith('CSV_')) {
      throw new DataError(`etl: ${name} is not a readable CSV (${(err as Error).message}); expected the weatherAUS header and comma-separated rows`);
    }
    throw err;
  }
  if (index === null) throw new DataError(`etl: ${name} is empty; expected the weatherAUS header and rows`);
  return result;
}

/** Maps each expected column to its position in the file's header; -1 for an allowed absence. */
function headerIndex(header: string[], name: string, optional: readonly string[]): number[] {
  const names = header.map((h) => h.trim());
  const missing = RAW_COLUMNS.filter((c) => !names.includes(c) && !optional.includes(c));
  if (missing.length > 0) {
    const list = missing.length === 1 ? `column ${missing[0]} is` : `columns ${missing.join(', ')} are`;
    throw new DataError(`etl: ${list} missing from ${name} (line 1); expected the weatherAUS header`);
  }
  return RAW_COLUMNS.map((c) => names.indexOf(c));
}
