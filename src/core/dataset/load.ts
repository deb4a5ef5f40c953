import { DataError } from '../errors.js';
import type { InputsPipeline } from '../features/pipeline.js';
import { N_FEATURES } from '../features/pipeline.js';
import type { Matrix } from '../models/matrix.js';
import type { ArtifactStore } from '../store/types.js';
import { readWeatherCsv } from './read-csv.js';
import type { WeatherRow } from './schema.js';

export interface DatasetMatrices {
  Xtrain: Matrix;
  yTrain: Float32Array;
  Xtest: Matrix;
  yTest: Float32Array;
  pipeline: InputsPipeline;
}

const POW10 = Array.from({ length: 16 }, (_, k) => 10 ** k);

/** A plain decimal cell as Number() reads it (<= 15 digits: exact mantissa, one rounding), else via Number(). */
function cellValue(buf: Uint8Array, s: number, e: number): number {
  let i = s;
  let negative = false;
  if (buf[i] === 0x2d) {
    negative = true;
    i++;
  }
  let m = 0;
  let digits = 0;
  let decimals = 0;
  let dot = false;
  for (; i < e; i++) {
    const b = buf[i]!;
    if (b >= 0x30 && b <= 0x39) {
      m = m * 10 + (b - 0x30);
      digits++;
      if (dot) decimals++;
    } else if (b === 0x2e && !dot) dot = true;
    else return Number(Buffer.from(buf.subarray(s, e)).toString('utf8'));
  }
  if (digits === 0 || digits > 15) return Number(Buffer.from(buf.subarray(s, e)).toString('utf8'));
  const v = decimals === 0 ? m : m / POW10[decimals]!;
  return negative ? -v : v;
}

/**
 * Reads a numeric CSV with a header (the final/ files) chunk by chunk into float32 blocks, then one
 * row-major matrix: no string of the file, no object per row.
 */
export class NumericCsvReader {
  private readonly blockRows = 1 << 14;
  private blocks: Float32Array[] = [];
  private block: Float32Array;
  private inBlock = 0;
  private rows = 0;
  private carry: Buffer = Buffer.alloc(0);
  private header = true;
  /** Blank lines seen since the last row: allowed only at the end, as the text's split ignored trailing ones. */
  private blanks = 0;

  constructor(
    private readonly name: string,
    private readonly cols: number,
  ) {
    this.block = new Float32Array(this.blockRows * cols);
  }

  push(chunk: Buffer): void {
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    let from = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, from);
      if (nl < 0) break;
      this.line(buf, from, nl);
      from = nl + 1;
    }
    this.carry = Buffer.from(buf.subarray(from));
  }

  end(): Matrix {
    if (this.carry.length) this.line(this.carry, 0, this.carry.length);
    const data = new Float32Array(this.rows * this.cols);
    let at = 0;
    for (const b of [...this.blocks, this.block]) {
      const n = Math.min(b.length, data.length - at);
      data.set(b.subarray(0, n), at);
      at += n;
    }
    this.blocks = [];
    return { rows: this.rows, cols: this.cols, data };
  }

  private line(buf: Uint8Array, s: number, e: number): void {
    if (this.header) {
      this.header = false;
      return;
    }
    if (s === e) {
      this.blanks++;
      return;
    }
    // A blank line between rows is a row of one empty cell (0, as Number('') is), as the text's split read it.
    for (; this.blanks > 0; this.blanks--) {
      if (this.cols !== 1) this.wrongCount(this.rows + 2, 1);
      this.block[this.inBlock] = 0;
      this.nextRow();
    }
    const cols = this.cols;
    const base = this.inBlock * cols;
    let j = 0;
    let fs = s;
    for (;;) {
      let fe = fs;
      while (fe < e && buf[fe] !== 0x2c) fe++;
      if (j < cols) this.block[base + j] = cellValue(buf, fs, fe);
      j++;
      if (fe >= e) break;
      fs = fe + 1;
    }
    if (j !== cols) this.wrongCount(this.rows + 2, j);
    this.nextRow();
  }

  private nextRow(): void {
    this.rows++;
    if (++this.inBlock === this.blockRows) {
      this.blocks.push(this.block);
      this.block = new Float32Array(this.blockRows * this.cols);
      this.inBlock = 0;
    }
  }

  private wrongCount(line: number, cells: number): never {
    throw new DataError(
      `${this.name} line ${line} has ${cells} values where ${this.cols} were expected; the data set is damaged, run etl again`,
    );
  }
}

/** Parses a numeric CSV with a header (the final/ files) into a float32 row-major matrix. */
export function parseNumericCsv(text: string | Buffer, name: string, cols: number): Matrix {
  const reader = new NumericCsvReader(name, cols);
  reader.push(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
  return reader.end();
}

async function matrix(store: ArtifactStore, key: string, name: string, cols: number): Promise<Matrix> {
  const reader = new NumericCsvReader(name, cols);
  for await (const chunk of await store.stream(key))
    reader.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer));
  return reader.end();
}

async function text(store: ArtifactStore, key: string): Promise<string> {
  return (await store.get(key)).toString('utf8');
}

/** The model-ready matrices of a data set version and its fitted pipeline. */
export async function loadDatasetMatrices(store: ArtifactStore, datasetId: string): Promise<DatasetMatrices> {
  const base = `datasets/${datasetId}`;
  // One after another: the peak is the matrices plus one read buffer, not every file at once.
  const Xtrain = await matrix(store, `${base}/final/X_train.csv`, 'final/X_train.csv', N_FEATURES);
  const yTrain = (await matrix(store, `${base}/final/y_train.csv`, 'final/y_train.csv', 1)).data;
  const Xtest = await matrix(store, `${base}/final/X_test.csv`, 'final/X_test.csv', N_FEATURES);
  const yTest = (await matrix(store, `${base}/final/y_test.csv`, 'final/y_test.csv', 1)).data;
  const pipeline = JSON.parse(await text(store, `${base}/pipes/inputs_pipeline.json`)) as InputsPipeline;
  return { Xtrain, yTrain, Xtest, yTest, pipeline };
}

/** The raw test rows and labels of a data set, to score any model through its own pipeline. */
export async function loadRawTest(
  store: ArtifactStore,
  datasetId: string,
): Promise<{ rows: WeatherRow[]; y: Float32Array }> {
  const base = `datasets/${datasetId}`;
  const read = await readWeatherCsv(
    { stream: await store.stream(`${base}/preprocessed/X_test.csv`), name: 'preprocessed/X_test.csv' },
    { optionalColumns: ['RainTomorrow'] },
  );
  const y = parseNumericCsv(await text(store, `${base}/final/y_test.csv`), 'final/y_test.csv', 1).data;
  if (read.rejected > 0 || read.rows.length !== y.length) {
    throw new DataError(
      `data set ${datasetId}: preprocessed/X_test.csv has ${read.rows.length} valid rows for ${y.length} labels; run etl again`,
    );
  }
  return { rows: read.rows, y };
}

/** Date|Location of every training row of a data set: the rows a model trained on it has seen. */
export async function trainingKeys(store: ArtifactStore, datasetId: string): Promise<Set<string>> {
  const lines = (await text(store, `datasets/${datasetId}/preprocessed/X_train.csv`)).split('\n');
  const keys = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const first = line.indexOf(',');
    const second = line.indexOf(',', first + 1);
    if (second > 0) keys.add(`${line.slice(0, first)}|${line.slice(first + 1, second)}`);
  }
  return keys;
}
