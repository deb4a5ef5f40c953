import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { gunzipIfCompressed, stageSource, sweepStaging } from '../../src/core/dataset/source.js';
import { DataError } from '../../src/core/errors.js';
import { sha256 } from '../../src/core/hash.js';
import { tempDir } from '../helpers/cli.js';
import { waitFor } from '../helpers/registry.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TEXT = `Date,Location\n${Array.from({ length: 5000 }, (_, i) => `2010-01-01,Place${i}`).join('\n')}\n`;

/** The bytes with the first three in chunks of one: the gzip magic arrives split. */
const byteByByte = (bytes: Buffer) =>
  Readable.from([...[0, 1, 2].map((i) => bytes.subarray(i, i + 1)), bytes.subarray(3)]);

const collect = async (stream: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
};

describe('gunzipIfCompressed', () => {
  it('decompresses gzip even when its first bytes come one at a time, and passes plain text through', async () => {
    expect(await collect(gunzipIfCompressed(byteByByte(gzipSync(TEXT)), 'test'))).toBe(TEXT);
    expect(await collect(gunzipIfCompressed(byteByByte(Buffer.from(TEXT)), 'test'))).toBe(TEXT);
    expect(await collect(gunzipIfCompressed(Readable.from([Buffer.from('x')]), 'test'))).toBe('x');
    expect(await collect(gunzipIfCompressed(Readable.from([]), 'test'))).toBe('');
  });

  it('decompresses concatenated gzip members (gzip a b > c)', async () => {
    const joined = Buffer.concat([gzipSync(TEXT.slice(0, 100)), gzipSync(TEXT.slice(100))]);
    expect(await collect(gunzipIfCompressed(Readable.from([joined]), 'test'))).toBe(TEXT);
  });

  it('names the source when gzip data is damaged', async () => {
    const damaged = gzipSync(TEXT).subarray(0, 40);
    await expect(collect(gunzipIfCompressed(Readable.from([damaged]), 'etl: w.csv.gz'))).rejects.toThrow(
      /^etl: w\.csv\.gz starts like gzip data but does not decompress/,
    );
  });
});

describe('stageSource', () => {
  it('hashes and stages the uncompressed bytes as they are read, and registers its cleanup until removed', async () => {
    const gz = join(dir, 'w.csv.gz');
    writeFileSync(gz, gzipSync(TEXT));
    const hooks = new Set<() => void>();
    const staged = await stageSource(gz, {
      dir: join(dir, 'cache'),
      onInterrupt: (fn) => (hooks.add(fn), () => void hooks.delete(fn)),
    });
    expect(hooks.size).toBe(1);
    expect(await collect(staged.stream)).toBe(TEXT);
    expect(await staged.digest()).toEqual({ sha256: sha256(TEXT), size: TEXT.length });
    expect(readFileSync(staged.path, 'utf8')).toBe(TEXT);
    await staged.remove();
    expect(existsSync(staged.path)).toBe(false);
    expect(hooks.size).toBe(0);
  });

  it('the interrupt cleanup removes the staging file while the read is under way', async () => {
    const hooks = new Set<() => void>();
    const plain = join(dir, 'w.csv');
    writeFileSync(plain, TEXT);
    const staged = await stageSource(plain, {
      dir: join(dir, 'cache'),
      onInterrupt: (fn) => (hooks.add(fn), () => void hooks.delete(fn)),
    });
    expect(existsSync(staged.path)).toBe(true);
    for (const fn of hooks) fn();
    expect(existsSync(staged.path)).toBe(false);
    staged.stream.destroy();
  });

  it('stops past maxBytes with a DataError, rejects the digest and removes the partial copy', async () => {
    const plain = join(dir, 'big.csv');
    writeFileSync(plain, TEXT);
    const staged = await stageSource(plain, { dir: join(dir, 'cache'), limits: { maxBytes: 1000 } });
    const err = await collect(staged.stream).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toBe(
      `etl: ${plain} holds more than 1000 bytes (--max-source-bytes); pass a larger --max-source-bytes if it really is that big`,
    );
    await expect(staged.digest()).rejects.toBe(err);
    expect(existsSync(staged.path)).toBe(false);
  });

  it('removes the staging copy when the reader stops early', async () => {
    const plain = join(dir, 'early.csv');
    writeFileSync(plain, TEXT.repeat(30));
    const staged = await stageSource(plain, { dir: join(dir, 'cache') });
    for await (const _chunk of staged.stream) break;
    // The generator's cleanup runs after the break returns; wait for it, not for a fixed time.
    await waitFor(() => !existsSync(staged.path), 10_000);
    await expect(staged.digest()).rejects.toThrow();
  });
});

describe('sweepStaging', () => {
  it('removes only staging files older than the grace period, judged by the clock it is given', async () => {
    const cache = join(dir, 'sweep');
    const staged = await stageSource(join(dir, 'w.csv'), { dir: cache });
    await collect(staged.stream);
    writeFileSync(join(cache, 'keep-me.csv'), 'not a staging file');
    const later = new Date(Date.now() + 25 * 3600_000);
    expect(await sweepStaging(cache, new Date())).toEqual([]);
    expect(await sweepStaging(cache, later)).toEqual([staged.path]);
    expect(existsSync(join(cache, 'keep-me.csv'))).toBe(true);
    expect(await sweepStaging(join(dir, 'no-such-folder'), later)).toEqual([]);
  });
});
