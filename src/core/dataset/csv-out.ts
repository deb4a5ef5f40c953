import { RAW_COLUMNS } from './schema.js';
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
