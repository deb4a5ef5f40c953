import { writeSync } from 'node:fs';
import { isoDay } from '../features/dates.js';
import { LOCATION_NAMES } from '../features/locations.js';
import { WIND_DIRECTIONS } from '../features/wind.js';
import { MISSING } from './columns.js';
import type { FeatureColumns, WeatherColumns } from './columns.js';
import { CONTINUOUS_COLUMNS, RAW_COLUMNS, WIND_COLUMNS } from './schema.js';
import type { WeatherRow } from './schema.js';

const FEATURE_COLUMNS = RAW_COLUMNS.slice(0, -1);

/**
 * Collects text into large buffers line by line, so each line string dies young instead of
 * surviving in one huge array until a final join (which costs more in garbage collection).
 */
export class TextSink {
  private chunks: Buffer[] = [];
  private current = Buffer.allocUnsafe(1 << 20);
  private used = 0;

  line(text: string): void {
    const need = text.length * 3 + 1;
    if (this.used + need > this.current.length) {
      this.chunks.push(this.current.subarray(0, this.used));
      this.current = Buffer.allocUnsafe(Math.max(1 << 20, need));
      this.used = 0;
    }
    this.used += this.current.write(text, this.used);
    this.current[this.used++] = 10;
  }

  toBuffer(): Buffer {
    return Buffer.concat([...this.chunks, this.current.subarray(0, this.used)]);
  }
}

function field(v: string | number | null): string {
  if (v === null) return 'NA';
  const s = typeof v === 'number' ? String(v) : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Raw feature columns of the chosen rows, missing values written NA. */
export function rawFeaturesCsv(rows: readonly WeatherRow[], idx: Uint32Array): Buffer {
  const sink = new TextSink();
  sink.line(FEATURE_COLUMNS.join(','));
  for (const i of idx) {
    const r = rows[i]!;
    let line = field(r[FEATURE_COLUMNS[0]!]);
    for (let j = 1; j < FEATURE_COLUMNS.length; j++) line += `,${field(r[FEATURE_COLUMNS[j]!])}`;
    sink.line(line);
  }
  return sink.toBuffer();
}

export function rawLabelCsv(rows: readonly WeatherRow[], idx: Uint32Array): Buffer {
  const sink = new TextSink();
  sink.line('RainTomorrow');
  for (const i of idx) sink.line(field(rows[i]!.RainTomorrow));
  return sink.toBuffer();
}

const ZEROS = ['', '0', '00', '000', '0000', '00000', '000000'];

/** A number rounded to 7 decimals, trailing zeros dropped; twice as fast as String(x) on rounded doubles. */
export function fixed7(x: number): string {
  let v = Math.round(x * 1e7);
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return String(x);
  let sign = '';
  if (v < 0) {
    sign = '-';
    v = -v;
  }
  const whole = Math.floor(v / 1e7);
  const frac = v - whole * 1e7;
  if (frac === 0) return sign + whole;
  let digits = `${frac}`;
  digits = ZEROS[7 - digits.length]! + digits;
  let end = digits.length;
  while (digits.charCodeAt(end - 1) === 48) end--;
  return `${sign + whole}.${digits.slice(0, end)}`;
}

/** A row-major matrix as CSV; values rounded to 1e-7, well inside float32 model precision. */
export function matrixCsv(header: readonly string[], data: ArrayLike<number>, cols: number): Buffer {
  const rows = data.length / cols;
  const sink = new TextSink();
  sink.line(header.join(','));
  for (let i = 0; i < rows; i++) {
    let line = fixed7(data[i * cols]!);
    for (let j = 1; j < cols; j++) line += `,${fixed7(data[i * cols + j]!)}`;
    sink.line(line);
  }
  return sink.toBuffer();
}

export function labelCsv(header: string, labels: ArrayLike<number>): Buffer {
  const sink = new TextSink();
  sink.line(header);
  for (let i = 0; i < labels.length; i++) sink.line(String(labels[i]));
  return sink.toBuffer();
}

/**
 * Text bytes for a file, written out whenever its 1 MiB buffer fills: a data set of any size is written
 * in constant memory. Callers reserve room for a line before writing it.
 */
export class FileSink {
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  /** Bytes written so far (flushed or not). */
  size = 0;

  constructor(private readonly fd: number) {}

  /** Makes room for `n` more bytes (at most the buffer's size). */
  room(n: number): void {
    if (this.used + n > this.buf.length) this.flush();
  }

  text(s: string): void {
    this.room(s.length * 3);
    // Cells are short and ASCII: copying the codes costs less than a call into Buffer.write per cell.
    if (s.length <= 24) {
      let at = this.used;
      for (let i = 0; i < s.length; i++) {
        const code = s.charCodeAt(i);
        if (code > 0x7f) {
          this.used += this.buf.write(s, this.used, 'utf8');
          return;
        }
        this.buf[at++] = code;
      }
      this.used = at;
      return;
    }
    this.used += this.buf.write(s, this.used, 'utf8');
  }

  byte(b: number): void {
    this.buf[this.used++] = b;
  }

  /** fixed7(x) as bytes, without making the string (the final matrices hold millions of values). */
  fixed7(x: number): void {
    let v = Math.round(x * 1e7);
    if (v === 0) {
      this.buf[this.used++] = 0x30;
      return;
    }
    // Past 2^53 the split into whole and fraction below is no longer exact; fixed7 says what it does there.
    if (!(v < 9e15 && v > -9e15)) {
      this.text(fixed7(x));
      return;
    }
    if (v < 0) {
      this.buf[this.used++] = 0x2d;
      v = -v;
    }
    const whole = Math.floor(v / 1e7);
    let frac = v - whole * 1e7;
    this.digits(whole);
    if (frac === 0) return;
    this.buf[this.used++] = 0x2e;
    let width = 7;
    while (frac % 10 === 0) {
      frac /= 10;
      width--;
    }
    const end = this.used + width;
    for (let at = end - 1; at >= this.used; at--) {
      this.buf[at] = 0x30 + (frac % 10);
      frac = Math.floor(frac / 10);
    }
    this.used = end;
  }

  /** A non-negative integer below 2^53 in decimal. */
  private digits(n: number): void {
    let len = 1;
    for (let p = 10; p <= n; p *= 10) len++;
    const end = this.used + len;
    for (let at = end - 1; at >= this.used; at--) {
      this.buf[at] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
    this.used = end;
  }

  flush(): void {
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.size += this.used;
    this.used = 0;
  }
}

const NA = 'NA';
const LINE_ROOM = 4096;

/** String(v) of the numbers of one column, remembered for recent values: a column repeats a few thousand values. */
function numberText(): (v: number) => string {
  const keys = new Float64Array(4096).fill(NaN);
  const texts: string[] = new Array(4096).fill('');
  return (v) => {
    if (Number.isNaN(v)) return NA;
    const slot = (v * 10) & 4095;
    // -0 and 0 share a slot and a text: String(-0) is '0'.
    if (keys[slot] === v) return texts[slot]!;
    const t = String(v);
    keys[slot] = v;
    texts[slot] = t;
    return t;
  };
}

const dayTexts = new Map<number, string>();
/** YYYY-MM-DD of a day number, remembered (a data set holds a few thousand days). */
export function dayText(day: number): string {
  let t = dayTexts.get(day);
  if (t === undefined) {
    t = isoDay(day);
    if (dayTexts.size < 100_000) dayTexts.set(day, t);
  }
  return t;
}

const categoryText = (names: readonly string[]) => (code: number) => (code === MISSING ? NA : names[code]!);
const windText = categoryText(WIND_DIRECTIONS);
const yesNoText = categoryText(['No', 'Yes']);

/** preprocessed/X_*.csv from columns: the raw feature columns of the chosen rows, missing values written NA. */
export function writeRawFeatures(sink: FileSink, c: WeatherColumns, idx: Uint32Array): void {
  const cells: ((i: number) => string)[] = FEATURE_COLUMNS.map((col) => {
    if (col === 'Date') return (i) => dayText(c.day[i]!);
    if (col === 'Location') return (i) => categoryText(LOCATION_NAMES)(c.location[i]!);
    if (col === 'RainToday') return (i) => yesNoText(c.rainToday[i]!);
    const k = (WIND_COLUMNS as readonly string[]).indexOf(col);
    if (k >= 0) return (i) => windText(c.wind[k]![i]!);
    const values = c.num[(CONTINUOUS_COLUMNS as readonly string[]).indexOf(col)]!;
    const text = numberText();
    return (i) => text(values[i]!);
  });
  sink.text(FEATURE_COLUMNS.join(','));
  sink.byte(10);
  for (const i of idx) {
    sink.room(LINE_ROOM);
    sink.text(cells[0]!(i));
    for (let j = 1; j < cells.length; j++) {
      sink.byte(0x2c);
      sink.text(cells[j]!(i));
    }
    sink.byte(10);
  }
}

/** preprocessed/y_*.csv from columns: RainTomorrow as Yes/No. */
export function writeRawLabels(sink: FileSink, c: WeatherColumns, idx: Uint32Array): void {
  sink.text('RainTomorrow\n');
  for (const i of idx) sink.text(yesNoText(c.rainTomorrow[i]!) === 'Yes' ? 'Yes\n' : 'No\n');
}

/** final/X_*.csv: the 27 standardized features of the chosen rows, each rounded as fixed7 does. */
export function writeFeatureMatrix(
  sink: FileSink,
  header: readonly string[],
  write: (c: FeatureColumns, i: number, out: Float64Array, at: number) => void,
  c: FeatureColumns,
  idx: Uint32Array,
): void {
  const cols = header.length;
  const row = new Float64Array(cols);
  sink.text(header.join(','));
  sink.byte(10);
  for (const i of idx) {
    write(c, i, row, 0);
    sink.room(LINE_ROOM);
    sink.fixed7(row[0]!);
    for (let j = 1; j < cols; j++) {
      sink.byte(0x2c);
      sink.fixed7(row[j]!);
    }
    sink.byte(10);
  }
}

/** final/y_*.csv: a header and one 0/1 per line. */
export function writeLabels(sink: FileSink, header: string, labels: ArrayLike<number>): void {
  sink.text(`${header}\n`);
  for (let i = 0; i < labels.length; i++) {
    sink.room(32);
    sink.text(String(labels[i]));
    sink.byte(10);
  }
}
