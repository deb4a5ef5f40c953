import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { FeatureInput } from '../dataset/schema.js';
import { DataError } from '../errors.js';
import { openFileWriter, predictionFormatter, sinkWriter } from './output.js';
import type { OutputFormat, PredictionWriter, TextSink } from './output.js';
import { iterateInputRows } from './rows.js';
import type { InputFormat } from './rows.js';
import type { ModelRef, RowScorer } from './scorer.js';

export interface BatchOptions {
  input: string;
  inputFormat: InputFormat;
  /** A file path, or null to write to deps.sink (standard output). */
  output: string | null;
  outputFormat: OutputFormat;
  /** The first invalid row is an error naming its line. */
  strict: boolean;
  /** Rows scored at once: memory stays bounded by this, not by the input's size. */
  chunkSize?: number;
}

export interface BatchProgress {
  rows: number;
  predicted: number;
  rejected: number;
  /** Bytes of the input read so far and in all, for a progress bar. */
  bytesRead: number;
  totalBytes: number;
  elapsedMs: number;
}

export interface BatchDeps {
  scorer: RowScorer;
  sink?: TextSink;
  onProgress?: (p: BatchProgress) => void;
  now?: () => number;
}

export interface BatchResult {
  input: string;
  output: string;
  format: OutputFormat;
  /** The model that answered; null when no row was scored. */
  model: ModelRef | null;
  rows: number;
  predicted: number;
  /** Rows predicted to rain. */
  rain: number;
  rejected: number;
  /** Invalid rows by reason, with the first few lines of each. */
  rejectedByReason: Record<string, { count: number; lines: number[] }>;
  elapsedMs: number;
  /** False when the reader of standard output went away before the end (`| head`). */
  complete: boolean;
}

const LINES_PER_REASON = 5;

/** Scores a CSV or JSONL file of raw weatherAUS rows in chunks, writing each chunk's predictions as it goes. */
export async function predictBatch(opts: BatchOptions, deps: BatchDeps): Promise<BatchResult> {
  const now = deps.now ?? (() => performance.now());
  const started = now();
  const name = basename(opts.input);
  const totalBytes = await inputSize(opts.input);
  const chunkSize = opts.chunkSize ?? 1_000;
  const format = predictionFormatter(opts.outputFormat);
  if (opts.output === null && !deps.sink) throw new TypeError('predictBatch: pass an output path or a sink');
  const writer: PredictionWriter = opts.output === null ? sinkWriter(deps.sink!) : await openFileWriter(opts.output);
  const source = createReadStream(opts.input, { highWaterMark: 1 << 20 });
  const result: BatchResult = {
    input: opts.input,
    output: opts.output ?? '-',
    format: opts.outputFormat,
    model: null,
    rows: 0,
    predicted: 0,
    rain: 0,
    rejected: 0,
    rejectedByReason: {},
    elapsedMs: 0,
    complete: true,
  };
  const reject = (line: number, reason: string) => {
    if (opts.strict)
      throw new DataError(
        `predict: ${name} line ${line}: ${reason}; fix the row or run without --strict to skip invalid rows`,
      );
    result.rejected++;
    result.rejectedByReason[reason] ??= { count: 0, lines: [] };
    const entry = result.rejectedByReason[reason];
    entry.count++;
    if (entry.lines.length < LINES_PER_REASON) entry.lines.push(line);
  };
  const progress = () =>
    deps.onProgress?.({
      rows: result.rows,
      predicted: result.predicted,
      rejected: result.rejected,
      bytesRead: source.bytesRead,
      totalBytes,
      elapsedMs: now() - started,
    });

  let chunk: FeatureInput[] = [];
  let lines: number[] = [];
  // The header waits for the first scored chunk, so an input refused at its header leaves standard output untouched.
  let header = format.header;
  const flush = async () => {
    if (chunk.length === 0) return;
    const { model, answers } = await deps.scorer.scoreRows(chunk);
    result.model ??= model;
    let text = header;
    header = '';
    for (let i = 0; i < answers.length; i++) {
      const a = answers[i]!;
      if ('reason' in a) {
        reject(lines[i]!, a.reason);
        continue;
      }
      result.predicted++;
      result.rain += a.prediction_bool;
      text += format.line(chunk[i]!.Date, chunk[i]!.Location, a);
    }
    chunk = [];
    lines = [];
    await writer.write(text);
    progress();
  };

  try {
    for await (const item of iterateInputRows(source, opts.input, opts.inputFormat)) {
      result.rows++;
      if (item.row === undefined) {
        reject(item.line, item.reason);
        continue;
      }
      chunk.push(item.row);
      lines.push(item.line);
      if (chunk.length >= chunkSize) await flush();
      if (writer.closed) {
        result.complete = false;
        break;
      }
    }
    await flush();
    if (header !== '') await writer.write(header);
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    if (!source.destroyed) source.destroy();
  }
  result.elapsedMs = now() - started;
  progress();
  return result;
}

async function inputSize(path: string): Promise<number> {
  try {
    const s = await stat(path);
    if (s.isDirectory())
      throw new DataError(
        `predict: input ${path} is a folder; pass --input with a CSV or JSONL file of weatherAUS rows`,
      );
    return s.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new DataError(
        `predict: input ${path} does not exist; pass --input with a CSV or JSONL file of weatherAUS rows`,
      );
    throw err;
  }
}
