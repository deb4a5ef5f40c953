import { createHash, randomUUID } from 'node:crypto';
import { close, closeSync, constants, createReadStream, fstat, open, openSync, rmSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { mkdir, open as openFile, readdir, rm, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ReadStream as TtyReadStream, isatty } from 'node:tty';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import type { InterruptHook } from '../context.js';
import { DataError, RainopsError } from '../errors.js';
import { FileSink } from './csv-out.js';

/** Where `etl` reads when neither --source nor RAINOPS_SOURCE says otherwise: the copy shipped in the package. */
export const BUNDLED_SOURCE = fileURLToPath(new URL('../../../data/weatherAUS.csv.gz', import.meta.url));

export const isUrl = (source: string): boolean => /^https?:\/\//i.test(source);

export interface SourceLimits {
  /** Remote sources: how long to wait for the server's answer (its response headers). */
  connectTimeoutMs: number;
  /** Remote sources: how long the body may send nothing before the read gives up. */
  readTimeoutMs: number;
  /** Any source: the most bytes read (after decompression) before giving up. */
  maxBytes: number;
}

export const DEFAULT_SOURCE_LIMITS: SourceLimits = {
  connectTimeoutMs: 30_000,
  readTimeoutMs: 60_000,
  maxBytes: 2 * 1024 ** 3,
};

/** The given limits, the defaults for the rest (an undefined value counts as not given). */
const limitsOf = (l: Partial<SourceLimits> = {}): SourceLimits => ({
  connectTimeoutMs: l.connectTimeoutMs ?? DEFAULT_SOURCE_LIMITS.connectTimeoutMs,
  readTimeoutMs: l.readTimeoutMs ?? DEFAULT_SOURCE_LIMITS.readTimeoutMs,
  maxBytes: l.maxBytes ?? DEFAULT_SOURCE_LIMITS.maxBytes,
});

/** Staging files older than this are left over from a killed run; the next run removes them. */
export const STAGING_GRACE_MS = 24 * 3600_000;
const STAGING_PREFIX = 'staging-';

export type FetchLike = (url: string, init: { signal: AbortSignal }) => Promise<Response>;

export interface OpenSourceOptions {
  /** The command named in error messages. */
  scope?: string | undefined;
  limits?: Partial<SourceLimits> | undefined;
  fetch?: FetchLike | undefined;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Opens a local file for reading without ever blocking a libuv thread: a FIFO with no writer yet would
 * hold a thread in open() forever, and Node cannot exit (not even on SIGTERM) while a thread is stuck.
 * FIFOs and sockets are read through an event-driven pipe handle; regular files as usual.
 */
export async function openLocal(path: string): Promise<Readable> {
  const fd = await new Promise<number>((resolve, reject) =>
    open(path, constants.O_RDONLY | constants.O_NONBLOCK, (err, n) => (err ? reject(err) : resolve(n))),
  ).catch((err: unknown) => {
    // Linux cannot open /dev/stdin (/proc/self/fd/0) when it is a socket, as Node's child pipes are: read the fd itself.
    const fdNumber = /^\/(?:dev\/stdin$|dev\/fd\/(\d+)$|proc\/self\/fd\/(\d+)$)/.exec(path);
    if ((err as NodeJS.ErrnoException).code !== 'ENXIO' || !fdNumber) throw err;
    return Number(fdNumber[1] ?? fdNumber[2] ?? 0);
  });
  let info: Stats;
  try {
    info = await new Promise<Stats>((resolve, reject) => fstat(fd, (err, s) => (err ? reject(err) : resolve(s))));
    if (info.isDirectory()) throw Object.assign(new Error(`EISDIR: ${path} is a directory`), { code: 'EISDIR' });
  } catch (err) {
    close(fd, () => undefined);
    throw err;
  }
  if (info.isFIFO() || info.isSocket()) return new Socket({ fd, readable: true, writable: false });
  if (info.isCharacterDevice() && isatty(fd)) return new TtyReadStream(fd);
  return createReadStream('', { fd, highWaterMark: 1 << 16 });
}

/** The bytes of a stream, gunzipped when they start with gzip's magic bytes (a .gz file or URL, or a piped one). */
export function gunzipIfCompressed(input: Readable, label: string): Readable {
  async function* bytes(): AsyncGenerator<Buffer> {
    const it = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
    let head = Buffer.alloc(0);
    let ended = false;
    async function* whole(): AsyncGenerator<Buffer> {
      if (head.length) yield head;
      while (!ended) {
        const next = await it.next();
        if (next.done) return;
        yield toBuffer(next.value);
      }
    }
    try {
      while (head.length < GZIP_MAGIC.length && !ended) {
        const next = await it.next();
        if (next.done) ended = true;
        else head = Buffer.concat([head, toBuffer(next.value)]);
      }
      if (head[0] !== GZIP_MAGIC[0] || head[1] !== GZIP_MAGIC[1]) return yield* whole();
      const gunzip = createGunzip();
      // pipeline() tears both sides down on an error or when the consumer stops early.
      pipeline(Readable.from(whole()), gunzip).catch(() => undefined);
      try {
        for await (const chunk of gunzip) yield chunk as Buffer;
      } catch (err) {
        if (
          typeof (err as NodeJS.ErrnoException).code === 'string' &&
          (err as NodeJS.ErrnoException).code!.startsWith('Z_')
        ) {
          throw new DataError(
            `${label} starts like gzip data but does not decompress (${(err as Error).message}); check the file, or pass the uncompressed CSV`,
          );
        }
        throw err;
      }
    } finally {
      input.destroy();
    }
  }
  return Readable.from(bytes(), { highWaterMark: 4 });
}

// A view, not a copy, of the Uint8Arrays a fetch body yields.
const toBuffer = (chunk: Buffer | string | Uint8Array): Buffer =>
  typeof chunk === 'string'
    ? Buffer.from(chunk)
    : Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);

/** A source's bytes (a path, FIFO or http(s) URL), decompressed when gzipped. Local open errors keep their errno code. */
export async function openSource(source: string, opts: OpenSourceOptions = {}): Promise<Readable> {
  const raw = isUrl(source) ? await openRemote(source, limitsOf(opts.limits), opts.fetch) : await openLocal(source);
  return gunzipIfCompressed(raw, `${opts.scope ?? 'etl'}: ${source}`);
}

const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)} s`;

/** An http(s) body with a deadline for the answer and another for each silence while it streams. */
async function openRemote(
  url: string,
  limits: SourceLimits,
  doFetch: FetchLike = (u, init) => fetch(u, init),
): Promise<Readable> {
  const abort = new AbortController();
  let timedOut = false;
  const connect = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, limits.connectTimeoutMs);
  let res: Response;
  try {
    res = await doFetch(url, { signal: abort.signal });
  } catch (err) {
    if (timedOut) {
      throw new RainopsError(
        `etl: ${url} did not answer within ${seconds(limits.connectTimeoutMs)} (--connect-timeout); check the URL and the network, or raise --connect-timeout`,
      );
    }
    throw downloadError(url, err);
  } finally {
    clearTimeout(connect);
  }
  if (!res.ok || !res.body) {
    abort.abort();
    throw new RainopsError(
      `etl: downloading ${url} failed with HTTP ${res.status}; check the URL or pass --source PATH`,
    );
  }
  const reader = res.body.getReader();
  async function* body(): AsyncGenerator<Uint8Array> {
    let received = 0;
    try {
      for (;;) {
        let idle: NodeJS.Timeout | undefined;
        const silence = new Promise<'silence'>(
          (resolve) => (idle = setTimeout(() => resolve('silence'), limits.readTimeoutMs)),
        );
        let next: Awaited<ReturnType<typeof reader.read>> | 'silence';
        try {
          next = await Promise.race([reader.read(), silence]);
        } catch (err) {
          throw downloadError(url, err);
        } finally {
          clearTimeout(idle);
        }
        if (next === 'silence') {
          throw new RainopsError(
            `etl: ${url} sent nothing for ${seconds(limits.readTimeoutMs)} (--read-timeout) after ${received} bytes; retry later, or raise --read-timeout`,
          );
        }
        if (next.done) return;
        received += next.value.length;
        yield next.value;
      }
    } finally {
      // Closes the connection when the reader stops early (an error, a timeout, --strict).
      abort.abort();
      reader.releaseLock();
    }
  }
  return Readable.from(body(), { highWaterMark: 4 });
}

function downloadError(url: string, err: unknown): RainopsError {
  if (err instanceof RainopsError) return err;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err as Error).message;
  return new RainopsError(
    `etl: cannot download ${url} (${why}); check the network, or pass --source PATH (or set RAINOPS_SOURCE) to a local weatherAUS.csv`,
    { cause: err },
  );
}

export interface StagedSource extends AsyncDisposable {
  /** The uncompressed bytes; reading them writes them to `path` and hashes them. Read it once, to its end. */
  readonly stream: Readable;
  /** The staging copy, complete once `digest()` resolves. */
  readonly path: string;
  /** sha256 and size of the uncompressed bytes; resolves once `stream` has been read to its end. */
  digest(): Promise<{ sha256: string; size: number }>;
  /** Removes the staging copy (idempotent). */
  remove(): Promise<void>;
}

export interface StageOptions extends OpenSourceOptions {
  /** The folder for staging copies (the home's cache). */
  dir: string;
  /** Removes the staging copy if the process is interrupted before remove(). */
  onInterrupt?: InterruptHook | undefined;
}

/**
 * Reads a source once: its uncompressed bytes go to the caller's parser, a staging copy and a hash at the
 * same time, so pipes and FIFOs work and the hash is the one of the bytes parsed.
 */
export async function stageSource(source: string, opts: StageOptions): Promise<StagedSource> {
  const limits = limitsOf(opts.limits);
  await mkdir(opts.dir, { recursive: true });
  const path = join(opts.dir, `${STAGING_PREFIX}${randomUUID()}.csv`);
  const unregister = opts.onInterrupt?.(() => rmSync(path, { force: true })) ?? (() => undefined);
  let input: Readable;
  try {
    input = await openSource(source, opts);
  } catch (err) {
    unregister();
    throw openError(source, err);
  }
  const file = await openFile(path, 'wx').catch((err: unknown) => {
    input.destroy();
    unregister();
    throw err;
  });
  const remove = async () => {
    // Also when the stream was never read: nothing stays open.
    input.destroy();
    await file.close().catch(() => undefined);
    await rm(path, { force: true });
    unregister();
  };
  let settle!: { resolve: (d: { sha256: string; size: number }) => void; reject: (err: unknown) => void };
  const digest = new Promise<{ sha256: string; size: number }>((resolve, reject) => (settle = { resolve, reject }));
  digest.catch(() => undefined);

  async function* tee(): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    let size = 0;
    // The write of one chunk overlaps the parsing of it; the next chunk waits for it.
    let writing: Promise<unknown> = Promise.resolve();
    let complete = false;
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > limits.maxBytes) {
          throw new DataError(
            `etl: ${source} holds more than ${limits.maxBytes} bytes (--max-source-bytes); pass a larger --max-source-bytes if it really is that big`,
          );
        }
        hash.update(chunk);
        await writing;
        writing = file.write(chunk);
        writing.catch(() => undefined);
        yield chunk;
      }
      await writing;
      complete = true;
    } catch (err) {
      settle.reject(err);
      throw err;
    } finally {
      // A reader that stops early gets no digest (the first settle wins: an error thrown above keeps its own).
      if (!complete) settle.reject(new RainopsError(`etl: ${source} was not read to its end`));
      await file.close().catch(() => undefined);
      input.destroy();
      if (!complete) await remove();
    }
    settle.resolve({ sha256: hash.digest('hex'), size });
  }

  return {
    stream: Readable.from(tee(), { highWaterMark: 4 }),
    path,
    digest: () => digest,
    remove,
    [Symbol.asyncDispose]: remove,
  };
}

/** Opening errors of a local source as sentences. */
function openError(source: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT')
    return new DataError(
      `etl: source ${source} does not exist; pass --source with a path or URL of weatherAUS.csv, or leave it out to use the bundled copy`,
    );
  if (code === 'EISDIR') return new DataError(`etl: source ${source} is a folder; pass --source with a CSV file`);
  if (code === 'EACCES')
    return new DataError(`etl: source ${source} is not readable (permission denied); check its permissions`);
  if (typeof code === 'string' && (err as NodeJS.ErrnoException).syscall === 'open') {
    return new DataError(
      `etl: cannot open source ${source} (${code}); pass --source with a readable file, FIFO or URL`,
    );
  }
  return err;
}

/** Removes staging copies older than the grace period (left by a killed run); returns what it removed. */
export async function sweepStaging(dir: string, now: Date, graceMs = STAGING_GRACE_MS): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    // `.tmp-<pid>` files are downloads of the layout before staging copies.
    if (!name.startsWith(STAGING_PREFIX) && !/\.tmp-\d+$/.test(name)) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => null);
    if (!info?.isFile() || now.getTime() - info.mtimeMs < graceMs) continue;
    await rm(path, { force: true });
    removed.push(path);
  }
  return removed;
}

/**
 * Writes a file in `dir` (named like a staging copy, so a killed run's leftover is swept), hands its path to
 * `take` (a store's putFile) and removes it, whatever happens.
 */
export async function writeThroughFile<T>(
  dir: string,
  write: (sink: FileSink) => void,
  take: (path: string) => Promise<T>,
): Promise<T> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${STAGING_PREFIX}${randomUUID()}.part`);
  try {
    const fd = openSync(path, 'wx');
    try {
      const sink = new FileSink(fd);
      write(sink);
      sink.flush();
    } finally {
      closeSync(fd);
    }
    return await take(path);
  } finally {
    await rm(path, { force: true });
  }
}
