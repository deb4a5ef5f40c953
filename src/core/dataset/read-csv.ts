import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { CsvTextError, csvRecordBatches } from './csv-records.js';
import { DataError, RainopsError } from '../errors.js';
import { gunzipIfCompressed, openLocal } from './source.js';
import { RAW_COLUMNS, WeatherRowSchema } from './schema.js';
import type { WeatherRow } from './schema.js';

export interface ReadOptions extends IterateOptions {
  /** Keep rows dated on or before this day (YYYY-MM-DD). */
  until?: string | undefined;
  /** Any row that fails the schema is an error naming its line. */
  strict?: boolean | undefined;
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
export function numericCell(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (t === '' || t === 'NA') return null;
  return DECIMAL.test(t) ? Number(t) : NaN;
}

// Categorical cells repeat a few thousand values; sharing one string per value keeps memory and GC low.
const interned = new Map<string, string>();
export function textCell(text: string | undefined): string | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (t === '' || t === 'NA') return null;
  const known = interned.get(t);
  if (known !== undefined) return known;
  if (interned.size < 50_000) interned.set(t, t);
  return t;
}

/** One record as the row schema sees it, built as one literal so V8 keeps its shape and placement. */
export function candidate(
  record: string[],
  index: number[],
): Record<(typeof RAW_COLUMNS)[number], string | number | null> {
  const at = (j: number) => (index[j]! < 0 ? undefined : record[index[j]!]);
  return {
    Date: textCell(at(0)),
    Location: textCell(at(1)),
    MinTemp: numericCell(at(2)),
    MaxTemp: numericCell(at(3)),
    Rainfall: numericCell(at(4)),
    Evaporation: numericCell(at(5)),
    Sunshine: numericCell(at(6)),
    WindGustDir: textCell(at(7)),
    WindGustSpeed: numericCell(at(8)),
    WindDir9am: textCell(at(9)),
    WindDir3pm: textCell(at(10)),
    WindSpeed9am: numericCell(at(11)),
    WindSpeed3pm: numericCell(at(12)),
    Humidity9am: numericCell(at(13)),
    Humidity3pm: numericCell(at(14)),
    Pressure9am: numericCell(at(15)),
    Pressure3pm: numericCell(at(16)),
    Cloud9am: numericCell(at(17)),
    Cloud3pm: numericCell(at(18)),
    Temp9am: numericCell(at(19)),
    Temp3pm: numericCell(at(20)),
    RainToday: textCell(at(21)),
    RainTomorrow: textCell(at(22)),
  };
}

/** One data row of the CSV: the validated row, or why the row schema rejected it. */
export type CsvRowResult =
  | { line: number; row: WeatherRow; reason?: undefined }
  | { line: number; row?: undefined; reason: string };

export interface IterateOptions {
  /** Columns that may be absent (prediction inputs have no RainTomorrow). */
  optionalColumns?: readonly string[] | undefined;
  /** Columns read as absent even when present (a prediction ignores RainTomorrow). */
  ignoreColumns?: readonly string[] | undefined;
  /** The command named in error messages. */
  scope?: string | undefined;
  /** A line that is not CSV text is a rejected row rather than an error (one row per line, as prediction inputs are). */
  perLine?: boolean | undefined;
}

/**
 * Streams a weatherAUS-shaped CSV (a path, or a stream named for messages) in batches of rows, each
 * validated with the shared row schema and tagged with its 1-based line in the source.
 */
export async function* iterateWeatherCsvBatches(
  input: string | { stream: Readable; name: string },
  opts: IterateOptions = {},
): AsyncGenerator<CsvRowResult[]> {
  const scope = opts.scope ?? 'etl';
  const path = typeof input === 'string' ? input : input.name;
  const name = basename(path);
  let source: Readable | undefined = typeof input === 'string' ? undefined : input.stream;
  let index: number[] | null = null;
  let line = 0;
  try {
    // A path may be a FIFO or gzip-compressed; opened here so that open errors get the messages below.
    source ??= gunzipIfCompressed(await openLocal(path), `${scope}: ${path}`);
    for await (const records of csvRecordBatches(source, { perLine: opts.perLine === true })) {
      const batch: CsvRowResult[] = [];
      for (const record of records) {
        line++;
        if (!Array.isArray(record)) {
          if (index === null) throw new CsvTextError(line, record.notCsv);
          batch.push({ line, reason: `not CSV text: ${record.notCsv}` });
          continue;
        }
        if (record.length === 1 && record[0] === '') continue;
        if (index === null) {
          index = headerIndex(record, name, opts.optionalColumns ?? [], opts.ignoreColumns ?? [], scope);
          continue;
        }
        const row = candidate(record, index);
        const parsed = WeatherRowSchema.safeParse(row);
        if (parsed.success) {
          // The schema only checks (no transforms), so the candidate is the validated row; zod's copy dies young.
          batch.push({ line, row: row as WeatherRow });
        } else {
          const issue = parsed.error.issues[0]!;
          batch.push({ line, reason: `${issue.path.join('.')}: ${issue.message}` });
        }
      }
      if (batch.length) yield batch;
    }
  } catch (err) {
    throw readError(err, scope, path, name);
  } finally {
    // A consumer that stops early (--strict) must not leave the file open.
    if (source && !source.readableEnded) source.destroy();
  }
  if (index === null) throw new DataError(`${scope}: ${name} is empty; expected the weatherAUS header and rows`);
}

/** The same rows one by one. */
export async function* iterateWeatherCsv(
  input: string | { stream: Readable; name: string },
  opts: IterateOptions = {},
): AsyncGenerator<CsvRowResult> {
  for await (const batch of iterateWeatherCsvBatches(input, opts)) yield* batch;
}

/** Reads a whole weatherAUS-shaped CSV, counting rejected rows by reason (or failing on the first with strict). */
export async function readWeatherCsv(
  input: string | { stream: Readable; name: string },
  opts: ReadOptions = {},
): Promise<ReadResult> {
  const name = basename(typeof input === 'string' ? input : input.name);
  const result: ReadResult = { rows: [], lines: [], total: 0, rejected: 0, rejectedByReason: {}, afterUntil: 0 };
  for await (const batch of iterateWeatherCsvBatches(input, opts)) {
    for (const { line, row, reason } of batch) {
      result.total++;
      if (row === undefined) {
        if (opts.strict) {
          throw new DataError(
            `${opts.scope ?? 'etl'}: ${name} line ${line}: ${reason}; fix the row or run without --strict to skip rejected rows`,
          );
        }
        result.rejected++;
        result.rejectedByReason[reason] = (result.rejectedByReason[reason] ?? 0) + 1;
      } else if (opts.until !== undefined && row.Date > opts.until) {
        result.afterUntil++;
      } else {
        result.rows.push(row);
        result.lines.push(line);
      }
    }
  }
  return result;
}

/** Maps each expected column to its position in the file's header; -1 for an allowed absence. */
export function headerIndex(
  header: string[],
  name: string,
  optional: readonly string[],
  ignored: readonly string[],
  scope: string,
): number[] {
  const names = header.map((h) => h.trim());
  const missing = RAW_COLUMNS.filter((c) => !names.includes(c) && !optional.includes(c) && !ignored.includes(c));
  if (missing.length > 0) {
    const list = missing.length === 1 ? `column ${missing[0]} is` : `columns ${missing.join(', ')} are`;
    throw new DataError(`${scope}: ${list} missing from ${name} (line 1); expected the weatherAUS header`);
  }
  return RAW_COLUMNS.map((c) => (ignored.includes(c) ? -1 : names.indexOf(c)));
}

/** A read failure as the sentence a user gets (a missing file, a folder, text that is not CSV). */
export function readError(err: unknown, scope: string, path: string, name: string): unknown {
  if (err instanceof RainopsError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT')
    return new DataError(`${scope}: source ${path} does not exist; pass --source with a path to weatherAUS.csv`);
  if (code === 'EISDIR') return new DataError(`${scope}: source ${path} is a folder; pass --source with a CSV file`);
  if (err instanceof CsvTextError) {
    return new DataError(
      `${scope}: ${name} line ${err.line} is not CSV text (${err.reason}); expected the weatherAUS header and comma-separated rows`,
    );
  }
  return err;
}
