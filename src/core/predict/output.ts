import { once } from 'node:events';
import { open, rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { basename, dirname, join } from 'node:path';
import type { Prediction } from '../bundle/predictor.js';
import { DataError, diskFullError } from '../errors.js';

export type OutputFormat = 'csv' | 'jsonl';

/** A place text can be written to; a Node stream's `false` from write() means wait for 'drain'. */
export interface TextSink {
  write(text: string): unknown;
  once?(event: 'drain' | 'error', listener: (err?: unknown) => void): unknown;
  on?(event: 'error', listener: (err: unknown) => void): unknown;
  off?(event: 'drain' | 'error', listener: (err?: unknown) => void): unknown;
}

/** Where predictions go: written as they come, then committed or thrown away. */
export interface PredictionWriter {
  write(text: string): Promise<void>;
  /** The reader went away (`| head`): there is no point in scoring more rows. */
  readonly closed: boolean;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Writes to a stream the caller owns (standard output), waiting for it to drain. */
export function sinkWriter(sink: TextSink): PredictionWriter {
  let closed = false;
  let failure: unknown = null;
  const onError = (err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') closed = true;
    else failure = err;
  };
  // Listening all along: an unheard 'error' on standard output would end the process.
  sink.on?.('error', onError);
  const check = () => {
    if (failure === null) return;
    throw (
      diskFullError(failure, 'predictions to standard output', {
        scope: 'predict',
        fix: 'free space, or write them to another disk with --output',
      }) ??
      new DataError(
        `predict: cannot write to standard output (${(failure as NodeJS.ErrnoException).code ?? String(failure)})`,
        { cause: failure },
      )
    );
  };
  return {
    get closed() {
      return closed;
    },
    async write(text) {
      check();
      if (closed || sink.write(text) !== false || !sink.once) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          sink.off?.('drain', done);
          sink.off?.('error', done);
          resolve();
        };
        sink.once!('drain', done);
        sink.once!('error', done);
      });
      check();
    },
    commit: async () => void sink.off?.('error', onError),
    abort: async () => void sink.off?.('error', onError),
  };
}

/** Writes beside the target and renames at the end, so a failed run leaves no half-written file. */
export async function openFileWriter(path: string): Promise<PredictionWriter> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const cannot = (err: unknown) =>
    diskFullError(err, path, { scope: 'predict', fix: 'free space or point --output elsewhere' }) ??
    new DataError(
      `predict: cannot write ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check that its folder exists and is writable`,
      { cause: err },
    );
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(temp, 'w');
  } catch (err) {
    throw cannot(err);
  }
  const stream = handle.createWriteStream();
  let failed: unknown = null;
  stream.on('error', (err) => (failed = err));
  const check = () => {
    if (failed !== null) throw cannot(failed);
  };
  return {
    closed: false,
    async write(text) {
      check();
      try {
        if (!stream.write(text)) await once(stream, 'drain');
      } catch (err) {
        throw cannot(err);
      }
    },
    async commit() {
      check();
      try {
        stream.end();
        await finished(stream);
        await rename(temp, path);
      } catch (err) {
        throw cannot(err);
      }
    },
    async abort() {
      stream.destroy();
      await rm(temp, { force: true });
    },
  };
}

const CSV_HEADER = 'Date,Location,prediction_bool,probability,prediction_str\n';

// Hand-written: csv-stringify/sync per row took 24% more CPU over a 145,460-row `rainops predict` (ARCHITECTURE.md).
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Formats scored rows: the input's Date and Location, then the answer. */
export function predictionFormatter(format: OutputFormat): {
  header: string;
  line(date: string, location: string | null, p: Prediction): string;
} {
  if (format === 'jsonl') {
    return {
      header: '',
      line: (date, location, p) =>
        `${JSON.stringify({ Date: date, Location: location, prediction_bool: p.prediction_bool, probability: p.probability, prediction_str: p.prediction_str })}\n`,
    };
  }
  return {
    header: CSV_HEADER,
    line: (date, location, p) =>
      `${csvField(date)},${location === null ? 'NA' : csvField(location)},${p.prediction_bool},${p.probability},${csvField(p.prediction_str)}\n`,
  };
}
