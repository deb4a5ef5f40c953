import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import { DataError } from '../errors.js';
import { dayNumber, daysInMonth, dayNumberOf } from '../features/dates.js';
import { LOCATION_DICT, NUMBER_CHECKS, WIND_DICT, withinBounds, YES_NO_DICT } from './cell-checks.js';
import { MISSING, WeatherColumnsBuilder } from './columns.js';
import type { WeatherColumns } from './columns.js';
import { BINARY, CsvTextError, HEAD_LIMIT, quotedRecords, rest } from './csv-records.js';
import { candidate, headerIndex, readError } from './read-csv.js';
import { CONTINUOUS_COLUMNS, RAW_COLUMNS, WeatherRowSchema } from './schema.js';
import type { WeatherRow } from './schema.js';
import { gunzipIfCompressed, openLocal } from './source.js';

export interface ColumnsReadOptions {
  /** Keep rows dated on or before this day (YYYY-MM-DD). */
  until?: string | undefined;
  /** Any row that fails the schema is an error naming its line. */
  strict?: boolean | undefined;
  /** The command named in error messages. */
  scope?: string | undefined;
}

/** What readWeatherColumns found: the labelled rows as columns, and how many rows went where. */
export interface ColumnsRead {
  /** Rows that passed the schema and --until and have a RainTomorrow, in source order. */
  columns: WeatherColumns;
  /** Data rows in the file. */
  total: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  afterUntil: number;
  /** Valid rows without RainTomorrow (dropped before the split). */
  unlabelled: number;
}

// What a cell of each file column holds.
// 0: a column the schema does not read.
const DATE = 1;
const LOCATION = 2;
const NUMBER = 3;
const WIND = 4;
const RAIN_TODAY = 5;
const RAIN_TOMORROW = 6;

const POW10 = Array.from({ length: 16 }, (_, k) => 10 ** k);
/** A cell the fast path does not decide (parsed numbers are finite, so Infinity is free to mean it). */
const UNDECIDED = Infinity;

/**
 * A decimal cell as Number() reads it, NaN for empty or NA, UNDECIDED for anything else (an exponent,
 * spaces, more than 15 digits, garbage). With at most 15 digits the mantissa and 10^k are exact doubles,
 * so one correctly rounded division gives exactly the double Number() gives.
 */
function parseDecimal(buf: Uint8Array, s: number, e: number): number {
  if (s === e) return NaN;
  let i = s;
  let b = buf[i]!;
  if (b === 0x4e) return e - s === 2 && buf[s + 1] === 0x41 ? NaN : UNDECIDED;
  let negative = false;
  if (b === 0x2d) {
    negative = true;
    i++;
  } else if (b === 0x2b) i++;
  let m = 0;
  let digits = 0;
  let decimals = 0;
  let dot = false;
  for (; i < e; i++) {
    b = buf[i]!;
    if (b >= 0x30 && b <= 0x39) {
      m = m * 10 + (b - 0x30);
      digits++;
      if (dot) decimals++;
    } else if (b === 0x2e && !dot) dot = true;
    else return UNDECIDED;
  }
  if (digits === 0 || digits > 15) return UNDECIDED;
  const v = decimals === 0 ? m : m / POW10[decimals]!;
  return negative ? -v : v;
}

const digit = (buf: Uint8Array, i: number) => buf[i]! - 0x30;

/** The day number of an exact YYYY-MM-DD calendar day, or null. */
function parseDay(buf: Uint8Array, s: number, e: number): number | null {
  if (e - s !== 10 || buf[s + 4] !== 0x2d || buf[s + 7] !== 0x2d) return null;
  for (const k of [0, 1, 2, 3, 5, 6, 8, 9]) if (buf[s + k]! < 0x30 || buf[s + k]! > 0x39) return null;
  const year = digit(buf, s) * 1000 + digit(buf, s + 1) * 100 + digit(buf, s + 2) * 10 + digit(buf, s + 3);
  const month = digit(buf, s + 5) * 10 + digit(buf, s + 6);
  const day = digit(buf, s + 8) * 10 + digit(buf, s + 9);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return dayNumber(year, month, day);
}

/** A category cell: its code, MISSING for empty or NA, -1 when the dictionary lacks it. */
function category(dict: typeof WIND_DICT, buf: Uint8Array, s: number, e: number): number {
  if (s === e || (e - s === 2 && buf[s] === 0x4e && buf[s + 1] === 0x41)) return MISSING;
  return dict.find(buf, s, e);
}

/**
 * Reads a weatherAUS-shaped CSV (a path, or a stream named for messages) straight into typed columns.
 * Each cell is parsed from the bytes and checked by its column's compiled rule; a row with any cell those
 * rules do not accept is decoded and judged by the zod row schema exactly as iterateWeatherCsv judges it,
 * so the rows kept, the reasons counted and the lines named are the same. Input with quotes goes through
 * csv-parse from the chunk holding the first quote on, as there.
 */
export async function readWeatherColumns(
  input: string | { stream: Readable; name: string },
  opts: ColumnsReadOptions = {},
): Promise<ColumnsRead> {
  const scope = opts.scope ?? 'etl';
  const path = typeof input === 'string' ? input : input.name;
  const name = basename(path);
  let source: Readable | undefined = typeof input === 'string' ? undefined : input.stream;
  const reader = new ColumnReader(name, scope, opts);
  try {
    source ??= gunzipIfCompressed(await openLocal(path), `${scope}: ${path}`);
    await reader.read(source);
  } catch (err) {
    throw readError(err, scope, path, name);
  } finally {
    // A reader that stops early (--strict) must not leave the file open.
    if (source && !source.readableEnded) source.destroy();
  }
  return reader.result();
}

class ColumnReader {
  private readonly rows = new WeatherColumnsBuilder();
  private index: number[] | null = null;
  private kind = new Uint8Array(0);
  private target = new Uint8Array(0);
  /** Fields a line needs for every column to be present. */
  private needed = 0;
  private line = 0;
  private total = 0;
  private rejected = 0;
  private readonly rejectedByReason: Record<string, number> = {};
  private afterUntil = 0;
  private unlabelled = 0;
  private readonly untilDay: number;
  // A line judged by the schema is decoded on its own; mid-stream a byte-order mark is text, not a marker.
  private readonly lineDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(
    private readonly name: string,
    private readonly scope: string,
    private readonly opts: ColumnsReadOptions,
  ) {
    const until = opts.until === undefined ? null : dayNumberOf(opts.until);
    if (opts.until !== undefined && until === null)
      throw new DataError(`${scope}: --until ${opts.until} is not a calendar day; write it as YYYY-MM-DD`);
    this.untilDay = until ?? Infinity;
  }

  result(): ColumnsRead {
    if (this.index === null)
      throw new DataError(`${this.scope}: ${this.name} is empty; expected the weatherAUS header and rows`);
    return {
      columns: this.rows.finish(),
      total: this.total,
      rejected: this.rejected,
      rejectedByReason: this.rejectedByReason,
      afterUntil: this.afterUntil,
      unlabelled: this.unlabelled,
    };
  }

  async read(source: Readable): Promise<void> {
    const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
    const bytes = (c: Buffer | string) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c);
    // The first line, as csvRecordBatches reads it: up to a line end or 64 KiB.
    const head: Buffer[] = [];
    let headSize = 0;
    for (;;) {
      const next = await chunks.next();
      if (next.done) break;
      const b = bytes(next.value);
      head.push(b);
      headSize += b.length;
      if (b.includes(0x0a) || headSize >= HEAD_LIMIT) break;
    }
    let carry: Buffer = Buffer.concat(head);
    // More bytes may follow the head, so a character cut at its end is left out, as a streaming decoder does.
    const headText = firstText(carry);
    const end = headText.indexOf('\n');
    if (BINARY.test(end < 0 ? headText : headText.slice(0, end)))
      throw new CsvTextError(1, 'binary or non-UTF-8 bytes');
    if (carry.includes(0x22)) return this.quoted(carry, chunks, true);
    let first = true;
    let pending: Buffer | null = carry;
    carry = Buffer.alloc(0);
    for (;;) {
      let chunk: Buffer;
      if (pending !== null) {
        chunk = pending;
        pending = null;
      } else {
        const next = await chunks.next();
        if (next.done) break;
        chunk = bytes(next.value);
        if (chunk.includes(0x22)) return this.quoted(Buffer.concat([carry, chunk]), chunks, false);
      }
      let from = 0;
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        carry = carry.length ? Buffer.concat([carry, chunk]) : chunk;
        continue;
      }
      if (carry.length || first) {
        // The line that spans the previous chunk and this one (or the header, which may carry a byte-order mark).
        const joined = carry.length ? Buffer.concat([carry, chunk.subarray(0, nl)]) : chunk.subarray(0, nl);
        if (first) this.firstLine(joined);
        else this.fastLine(joined, 0, joined.length);
        first = false;
        from = nl + 1;
      }
      for (;;) {
        const at = chunk.indexOf(0x0a, from);
        if (at < 0) break;
        this.fastLine(chunk, from, at);
        from = at + 1;
      }
      // Copied: a subarray would keep the whole chunk alive.
      carry = Buffer.from(chunk.subarray(from));
    }
    if (carry.length) {
      if (first) this.firstLine(carry);
      else this.fastLine(carry, 0, carry.length);
    }
  }

  /** From the chunk holding the first quote on, csv-parse reads the rest, as in csvRecordBatches. */
  private async quoted(bytesFrom: Buffer, chunks: AsyncIterator<Buffer | string>, atStart: boolean): Promise<void> {
    const decoder = new TextDecoder('utf-8', { ignoreBOM: !atStart });
    let text = decoder.decode(bytesFrom, { stream: true });
    if (atStart && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const input = Readable.from(rest(text, chunks, decoder));
    for await (const batch of quotedRecords(input, this.line)) for (const record of batch) this.record(record);
  }

  /** The first line: decoded with the stream's byte-order mark dropped, as csvRecordBatches does. */
  private firstLine(buf: Buffer): void {
    const text = firstText(buf, false);
    this.record((text.endsWith('\r') ? text.slice(0, -1) : text).split(','));
  }

  /** One record of text: a blank line, the header, or a row for the schema to judge. */
  private record(record: string[]): void {
    this.line++;
    if (record.length === 1 && record[0] === '') return;
    if (this.index === null) {
      this.header(record);
      return;
    }
    this.total++;
    const row = candidate(record, this.index);
    const parsed = WeatherRowSchema.safeParse(row);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      this.reject(`${issue.path.join('.')}: ${issue.message}`);
      return;
    }
    // The schema only checks (no transforms), so the candidate is the validated row.
    const valid = row as WeatherRow;
    const day = dayNumberOf(valid.Date)!;
    if (day > this.untilDay) this.afterUntil++;
    else if (valid.RainTomorrow === null) this.unlabelled++;
    else this.rows.push(valid);
  }

  private reject(reason: string): void {
    if (this.opts.strict) {
      throw new DataError(
        `${this.scope}: ${this.name} line ${this.line}: ${reason}; fix the row or run without --strict to skip rejected rows`,
      );
    }
    this.rejected++;
    this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + 1;
  }

  private header(record: string[]): void {
    const index = headerIndex(record, this.name, [], [], this.scope);
    this.index = index;
    const width = Math.max(...index) + 1;
    this.needed = width;
    this.kind = new Uint8Array(width);
    this.target = new Uint8Array(width);
    RAW_COLUMNS.forEach((col, j) => {
      const f = index[j]!;
      if (f < 0) return;
      const numeric = CONTINUOUS_COLUMNS.indexOf(col as (typeof CONTINUOUS_COLUMNS)[number]);
      const wind = ['WindGustDir', 'WindDir9am', 'WindDir3pm'].indexOf(col);
      this.kind[f] =
        col === 'Date'
          ? DATE
          : col === 'Location'
            ? LOCATION
            : numeric >= 0
              ? NUMBER
              : wind >= 0
                ? WIND
                : col === 'RainToday'
                  ? RAIN_TODAY
                  : RAIN_TOMORROW;
      this.target[f] = numeric >= 0 ? numeric : Math.max(wind, 0);
    });
  }

  /**
   * One line straight from the bytes into the next free row of the columns. Any cell its column's check
   * does not accept sends the whole line to record(), which overwrites that row or leaves it unused.
   */
  private fastLine(buf: Buffer, s: number, e: number): void {
    if (e > s && buf[e - 1] === 0x0d) e--;
    if (this.index === null || e === s) {
      this.record(this.lineDecoder.decode(buf.subarray(s, e)).split(','));
      return;
    }
    const c = this.rows.cur;
    const at = this.rows.at;
    const kind = this.kind;
    const target = this.target;
    let f = 0;
    let fs = s;
    let ok = true;
    for (;;) {
      let fe = fs;
      while (fe < e && buf[fe] !== 0x2c) fe++;
      if (f < kind.length) {
        const k = kind[f]!;
        if (k === NUMBER) {
          const j = target[f]!;
          const v = parseDecimal(buf, fs, fe);
          const check = NUMBER_CHECKS[j];
          if (v === UNDECIDED || check == null || (!Number.isNaN(v) && !withinBounds(check, v))) ok = false;
          else c.num[j]![at] = v;
        } else if (k === DATE) {
          const day = parseDay(buf, fs, fe);
          if (day === null) ok = false;
          else c.day[at] = day;
        } else if (k === LOCATION) {
          const code = LOCATION_DICT.find(buf, fs, fe);
          if (code < 0) ok = false;
          else c.location[at] = code;
        } else if (k === WIND) {
          const code = category(WIND_DICT, buf, fs, fe);
          if (code < 0) ok = false;
          else c.wind[target[f]!]![at] = code;
        } else if (k === RAIN_TODAY || k === RAIN_TOMORROW) {
          const code = category(YES_NO_DICT, buf, fs, fe);
          if (code < 0) ok = false;
          else if (k === RAIN_TODAY) c.rainToday[at] = code;
          else c.rainTomorrow[at] = code;
        }
        if (!ok) break;
      }
      f++;
      if (fe >= e) break;
      fs = fe + 1;
    }
    if (!ok || f < this.needed) {
      this.record(this.lineDecoder.decode(buf.subarray(s, e)).split(','));
      return;
    }
    this.line++;
    this.total++;
    if (c.day[at]! > this.untilDay) this.afterUntil++;
    else if (c.rainTomorrow[at] === MISSING) this.unlabelled++;
    else this.rows.commit();
  }
}

/** The text of the stream's first bytes as csvRecordBatches decodes them: one byte-order mark dropped by the decoder, another by hand. */
function firstText(buf: Buffer, more = true): string {
  const text = new TextDecoder('utf-8').decode(buf, { stream: more });
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
