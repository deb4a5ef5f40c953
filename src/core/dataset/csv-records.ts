import { Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import { CsvError, parse } from 'csv-parse';

/** A line that does not read as CSV, kept in place of its record when lines are read one by one. */
export interface NotCsvLine {
  notCsv: string;
}

export type CsvRecord = string[] | NotCsvLine;

/** The input stops being CSV text at `line`; `reason` says how, without echoing the bytes. */
export class CsvTextError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line} is not CSV text (${reason})`);
    this.name = 'CsvTextError';
  }
}

export interface CsvRecordOptions {
  /**
   * Read each line on its own: a line whose quotes do not pair up becomes a NotCsvLine instead of
   * failing the whole input (prediction inputs, one row per line). Quoted fields cannot span lines.
   */
  perLine?: boolean;
}

export const HEAD_LIMIT = 1 << 16;
// C0 controls other than tab and line ends, and U+FFFD, which the decoder puts for bytes that are not UTF-8.
export const BINARY = /[\x00-\x08\x0e-\x1f\ufffd]/;

/**
 * Streams CSV records in batches. csv-parse handles anything quoted; while the input has no quote
 * character at all (weatherAUS never quotes), lines are split directly, which is several times faster
 * and gives the same records. The switch happens at the first chunk holding a quote.
 * Blank lines come through as [''] so that counting records counts lines.
 * A first line with binary bytes, or quoting csv-parse refuses, throws CsvTextError.
 */
export async function* csvRecordBatches(source: Readable, opts: CsvRecordOptions = {}): AsyncGenerator<CsvRecord[]> {
  // File streams give Buffers; streams set to an encoding (stdin, Readable.from of text) give strings.
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const decoder = new TextDecoder('utf-8');
  let pending: string | null = await head(chunks, decoder);
  const end = pending.indexOf('\n');
  if (BINARY.test(end < 0 ? pending : pending.slice(0, end))) throw new CsvTextError(1, 'binary or non-UTF-8 bytes');
  const split = opts.perLine ? readLine : splitLine;
  let carry = '';
  let lines = 0;
  for (;;) {
    let text: string;
    if (pending !== null) {
      text = pending;
      pending = null;
    } else {
      const next = await chunks.next();
      if (next.done) break;
      text = decode(decoder, next.value);
    }
    if (!opts.perLine && text.includes('"')) {
      yield* quotedRecords(Readable.from(rest(carry + text, chunks, decoder)), lines);
      return;
    }
    const parts = (carry + text).split('\n');
    carry = parts.pop()!;
    lines += parts.length;
    yield parts.map(split);
  }
  const tail = carry + decoder.decode();
  if (tail !== '') yield [split(tail)];
}

/** Text up to the first line end (or 64 KiB, or the end), without a byte-order mark. */
async function head(chunks: AsyncIterator<Buffer | string>, decoder: TextDecoder): Promise<string> {
  let text = '';
  while (!text.includes('\n') && text.length < HEAD_LIMIT) {
    const next = await chunks.next();
    if (next.done) {
      text += decoder.decode();
      break;
    }
    text += decode(decoder, next.value);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function splitLine(line: string): string[] {
  return (line.endsWith('\r') ? line.slice(0, -1) : line).split(',');
}

function readLine(line: string): CsvRecord {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  return text.includes('"') ? parseQuotedLine(text) : text.split(',');
}

/**
 * One line's fields as RFC 4180 reads them ("" is a quote inside a quoted field). Written here rather
 * than calling csv-parse per line, which costs about 30 µs a line.
 */
export function parseQuotedLine(line: string): CsvRecord {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line.charCodeAt(i) === 0x22) {
      let value = '';
      let from = i + 1;
      for (;;) {
        const q = line.indexOf('"', from);
        if (q < 0) return { notCsv: 'a quoted field is not closed on its line' };
        value += line.slice(from, q);
        if (line.charCodeAt(q + 1) !== 0x22) {
          i = q + 1;
          break;
        }
        value += '"';
        from = q + 2;
      }
      fields.push(value);
      if (i === line.length) return fields;
      if (line.charCodeAt(i) !== 0x2c) return { notCsv: 'text after a closing quote' };
      i++;
    } else {
      const comma = line.indexOf(',', i);
      const value = line.slice(i, comma < 0 ? line.length : comma);
      if (value.includes('"')) return { notCsv: 'a quote inside an unquoted field' };
      fields.push(value);
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

const decode = (decoder: TextDecoder, chunk: Buffer | string): string =>
  typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });

export async function* rest(
  head: string,
  chunks: AsyncIterator<Buffer | string>,
  decoder: TextDecoder,
): AsyncGenerator<string> {
  yield head;
  for (;;) {
    const next = await chunks.next();
    if (next.done) break;
    yield decode(decoder, next.value);
  }
  yield decoder.decode();
}

const REASONS: Record<string, string> = {
  INVALID_OPENING_QUOTE: 'a quote inside an unquoted field',
  CSV_INVALID_CLOSING_QUOTE: 'text after a closing quote',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'text after a closing quote',
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is not closed by the end of the input',
  CSV_MAX_RECORD_SIZE: 'a record too long to be a row',
};

/** csv-parse's error as CsvTextError: its message quotes the offending bytes, which may be binary. */
function textError(err: CsvError, linesBefore: number): CsvTextError {
  const at = (err as CsvError & { lines?: number }).lines;
  return new CsvTextError(
    linesBefore + (typeof at === 'number' && at > 0 ? at : 1),
    REASONS[err.code] ?? 'not comma-separated text',
  );
}

export async function* quotedRecords(input: Readable, linesBefore: number): AsyncGenerator<string[][]> {
  const parser = input.pipe(parse({ relax_column_count: true, skip_empty_lines: false, trim: false }));
  input.on('error', (err: Error) => parser.destroy(err));
  let batch: string[][] = [];
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      batch.push(record);
      if (batch.length === 1000) {
        yield batch;
        batch = [];
      }
    }
  } catch (err) {
    throw err instanceof CsvError ? textError(err, linesBefore) : err;
  }
  if (batch.length) yield batch;
}
