import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RainopsError } from '../errors.js';
import { sha256 } from '../hash.js';

/** Where `etl` reads when neither --source nor RAINOPS_SOURCE says otherwise. */
export const DEFAULT_SOURCE_URL = 'https://raw.githubusercontent.com/arjun0200/Datasets/main/weatherAUS.csv';

export const isUrl = (source: string): boolean => /^https?:\/\//i.test(source);

export type FetchLike = (url: string, init: { signal: AbortSignal }) => Promise<Response>;

/**
 * Makes a source readable as a local file: a path is used as it is; an http(s) URL is downloaded
 * into the cache (to a temp file first, so an interrupted download never looks complete).
 */
export async function localSource(
  source: string,
  cacheDir: string,
  opts: { fetch?: FetchLike; timeoutMs?: number } = {},
): Promise<string> {
  if (!isUrl(source)) return source;
  const doFetch = opts.fetch ?? ((url, init) => fetch(url, init));
  await mkdir(cacheDir, { recursive: true });
  const target = join(cacheDir, `${sha256(source).slice(0, 16)}.csv`);
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    const res = await doFetch(source, { signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000) });
    if (!res.ok || !res.body) {
      throw new RainopsError(`etl: downloading ${source} failed with HTTP ${res.status}; check the URL or pass --source PATH`);
    }
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), createWriteStream(tmp));
    await rename(tmp, target);
    return target;
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof RainopsError) throw err;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new RainopsError(
      `etl: cannot download ${source} (${why}); check the network, or pass --source PATH (or set RAINOPS_SOURCE) to a local weatherAUS.csv`,
      { cause: err },
    );
  }
}
