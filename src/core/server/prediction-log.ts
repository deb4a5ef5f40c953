import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { Logger } from '../context.js';
import type { ArtifactStore } from '../store/types.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Where logged predictions live in the store: `predictions/<model>/<YYYY-MM-DD>/<host>-<pid>-<seq>.jsonl.gz`. */
export const PREDICTIONS_PREFIX = 'predictions';

/** Rows logged, spooled (written locally while the store was unreachable) and dropped (past the memory cap). */
export interface PredictionLogCounts {
  logged: number;
  spooled: number;
  dropped: number;
}

export interface PredictionLogOptions {
  model: string;
  /** Share of predictions kept, 0..1 (default 1). */
  sample?: number;
  /** A batch goes to the store this often (default 5 s) ... */
  flushMs?: number;
  /** ... or once it holds this many rows (default 5,000). */
  batchRows?: number;
  /** Rows held in memory at most (waiting or being written); past it rows are dropped and counted. */
  maxRows?: number;
  /** Batches the store refused wait here: `$RAINOPS_HOME/spool`. */
  spoolDir: string;
  host: string;
  pid: number;
  now?: () => number;
  random?: () => number;
}

export interface PredictionLog {
  /**
   * Cheap and synchronous: keeps a reference to the row (or the request's JSON text, `{"features": {...}}`,
   * which is logged as it came and costs no serialising); writing happens later, in batches.
   */
  record(
    inputs: object | RequestText,
    probability: number,
    prediction: number,
    version: number,
    requestId?: string,
  ): void;
  readonly counts: PredictionLogCounts;
  /** Writes what is buffered now and retries the spool. */
  flush(): Promise<void>;
  /** Stops the timer and flushes everything (SIGTERM). */
  close(): Promise<void>;
}

/** A request body as JSON text, logged under `request` as it came. */
export class RequestText {
  constructor(readonly text: string) {}
}

/** Rows past this many bytes of request text wait no more (with maxRows, what bounds memory). */
const MAX_TEXT_BYTES = 64 * 1024 * 1024;

interface Pending {
  time: number;
  requestId: string;
  version: number;
  probability: number;
  prediction: number;
  inputs: object | RequestText;
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** A spooled batch's file name holds its store key with `/` as `~` (no key part contains `~`). */
const spoolName = (key: string) => key.replaceAll('/', '~');
const keyOfSpool = (name: string) => name.replaceAll('~', '/');

/**
 * The prediction log of one server process: rows are kept in memory and written to the store as gzip JSON
 * lines every `flushMs` or `batchRows` rows. A batch the store refuses goes to the spool folder and is
 * uploaded on a later flush (by any process of the same home). Each process names its own files.
 */
export function createPredictionLog(
  opts: PredictionLogOptions,
  deps: { store: ArtifactStore; logger: Logger; counts?: PredictionLogCounts },
): PredictionLog {
  const sample = opts.sample ?? 1;
  const flushMs = opts.flushMs ?? 5000;
  const batchRows = opts.batchRows ?? 5000;
  const maxRows = opts.maxRows ?? 200_000;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const counts = deps.counts ?? { logged: 0, spooled: 0, dropped: 0 };
  const boot = randomBytes(4).toString('hex');
  let buffer: Pending[] = [];
  let inFlight = 0;
  let seq = 0;
  let ids = 0;
  let flushing: Promise<void> | null = null;
  let soon = false;
  let storeDown = false;

  const timer = setInterval(() => void flush(), flushMs);
  timer.unref();

  let textBytes = 0;
  function record(
    inputs: object | RequestText,
    probability: number,
    prediction: number,
    version: number,
    requestId?: string,
  ) {
    if (sample < 1 && random() >= sample) return;
    if (buffer.length + inFlight >= maxRows || textBytes >= MAX_TEXT_BYTES) {
      counts.dropped++;
      return;
    }
    if (inputs instanceof RequestText) {
      // A body on several lines would break the JSON lines: serialise its parsed form instead.
      if (/[\n\r\u2028\u2029]/.test(inputs.text)) inputs = JSON.parse(inputs.text) as object;
      else textBytes += inputs.text.length;
    }
    buffer.push({ time: now(), requestId: requestId ?? `${boot}-${++ids}`, version, probability, prediction, inputs });
    if (buffer.length >= batchRows && !soon) {
      soon = true;
      setImmediate(() => {
        soon = false;
        void flush();
      });
    }
  }

  const modelJson = JSON.stringify(opts.model);
  const lineOf = (r: Pending) =>
    `{"time":"${new Date(r.time).toISOString()}","request_id":${JSON.stringify(r.requestId)},"model":${modelJson},"version":${r.version},"probability":${Number.isFinite(r.probability) ? r.probability : null},"prediction":${r.prediction},${r.inputs instanceof RequestText ? `"request":${r.inputs.text}` : `"inputs":${JSON.stringify(r.inputs)}`}}\n`;

  async function spool(key: string, body: Buffer): Promise<void> {
    await mkdir(opts.spoolDir, { recursive: true });
    const file = join(opts.spoolDir, spoolName(key));
    await writeFile(`${file}.tmp`, body);
    await rename(`${file}.tmp`, file);
  }

  /** One day's rows as one object; the store first, the spool when it fails. */
  async function write(rows: Pending[]): Promise<boolean> {
    const key = `${PREDICTIONS_PREFIX}/${opts.model}/${day(rows[0]!.time)}/${opts.host}-${opts.pid}-${boot}-${++seq}.jsonl.gz`;
    // Level 1: a third of the default's CPU for a slightly larger file; the server's cores are for requests.
    const body = await gzipAsync(rows.map(lineOf).join(''), { level: 1 });
    try {
      await deps.store.put(key, body);
      counts.logged += rows.length;
      storeDown = false;
      return true;
    } catch (err) {
      if (!storeDown)
        deps.logger.warn(
          `prediction log: the store refused ${key} (${err instanceof Error ? err.message : String(err)}); spooling to ${opts.spoolDir} until it is back`,
        );
      storeDown = true;
      try {
        await spool(key, body);
        counts.spooled += rows.length;
      } catch (spoolErr) {
        counts.dropped += rows.length;
        deps.logger.warn(
          `prediction log: could not spool ${rows.length} rows either (${spoolErr instanceof Error ? spoolErr.message : String(spoolErr)}); they are lost`,
        );
      }
      return false;
    }
  }

  /** Uploads spooled batches (claimed by rename, so two processes never upload the same one). */
  async function drainSpool(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(opts.spoolDir)).filter((n) => n.endsWith('.jsonl.gz'));
    } catch {
      return;
    }
    for (const name of names) {
      const file = join(opts.spoolDir, name);
      const claimed = `${file}.${opts.pid}.uploading`;
      try {
        await rename(file, claimed);
      } catch {
        continue;
      }
      const body = await readFile(claimed);
      try {
        await deps.store.put(keyOfSpool(name), body);
      } catch {
        await rename(claimed, file).catch(() => undefined);
        storeDown = true;
        return;
      }
      storeDown = false;
      const rows = (await gunzipAsync(body)).toString('utf8').split('\n').length - 1;
      counts.logged += rows;
      await rm(claimed, { force: true });
    }
  }

  async function flushOnce(): Promise<void> {
    const rows = buffer;
    buffer = [];
    textBytes = 0;
    inFlight += rows.length;
    try {
      const byDay = new Map<string, Pending[]>();
      for (const r of rows) {
        const d = day(r.time);
        const list = byDay.get(d);
        if (list) list.push(r);
        else byDay.set(d, [r]);
      }
      let ok = true;
      for (const list of byDay.values()) ok = (await write(list)) && ok;
      // The store took this flush's rows (or there were none): try the spool too.
      if (ok) await drainSpool();
    } finally {
      inFlight -= rows.length;
    }
  }

  function flush(): Promise<void> {
    // One flush at a time; a call during one waits for it and then writes what came meanwhile.
    const run = (flushing ?? Promise.resolve()).then(flushOnce);
    const settled = run.catch((err: unknown) => {
      deps.logger.warn(`prediction log: ${err instanceof Error ? err.message : String(err)}`);
    });
    flushing = settled;
    return settled;
  }

  return {
    record,
    counts,
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
