import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBytes } from '../../src/commands/etl.js';
import { sha256 } from '../../src/core/hash.js';
import { cli, tempDir, WEATHER_CSV, weatherCsvText } from '../helpers/cli.js';
import { spawnCli } from '../helpers/spawn.js';

// sha256 of the uncompressed bundled data set, as data/README.md states it.
const WEATHER_SHA256 = '573fd715cd69fcacc4df32024d823b450ae3edaae7e8ff2eeb623adbed424014';

// JSON keys are moving to snake_case; either spelling names the same value.
const idOf = (r: Record<string, unknown>) => (r.dataset_id ?? r.datasetId) as string;

const manifestFiles = (home: string, id: string) =>
  (
    JSON.parse(readFileSync(join(home, '.rainops/store/datasets', id, 'manifest.json'), 'utf8')) as {
      files: Record<string, { sha256: string }>;
    }
  ).files;

describe('etl sources: the bundled copy by default, gzip like plain', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
  const home = dir();
  let bundled: Record<string, unknown> & { rows: Record<string, number>; source: string };

  beforeAll(async () => {
    // No --source and no RAINOPS_SOURCE (cli() passes only RAINOPS_HOME), no network.
    const r = await cli(['etl', '--json'], {}, home);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    bundled = JSON.parse(r.stdout);
  });
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('reads data/weatherAUS.csv.gz when no source is given, hashing the uncompressed bytes', () => {
    expect(bundled.source).toBe(WEATHER_CSV);
    expect(bundled.source_sha256 ?? bundled.sourceSha256).toBe(WEATHER_SHA256);
    expect(sha256(weatherCsvText())).toBe(WEATHER_SHA256);
    expect(bundled.rows).toMatchObject({ total: 145_460, rejected: 0, kept: 142_193, train: 113_754, test: 28_439 });
  });

  it('stores raw.csv uncompressed and removes its staging copy', () => {
    const raw = readFileSync(join(home, '.rainops/store/datasets', idOf(bundled), 'raw.csv'));
    expect(raw.length).toBe(14_094_055);
    expect(sha256(raw)).toBe(WEATHER_SHA256);
    expect(readdirSync(join(home, '.rainops/cache'))).toEqual([]);
  });

  it('gives the plain CSV the same data set id and byte-identical files', async () => {
    const plain = join(dir(), 'weatherAUS.csv');
    writeFileSync(plain, weatherCsvText());
    const other = dir();
    const r = await cli(['etl', '--source', plain, '--json'], {}, other);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(idOf(out)).toBe(idOf(bundled));
    expect(out.reused).toBe(false);
    expect(out.rows).toEqual(bundled.rows);
    expect(manifestFiles(other, idOf(out))).toEqual(manifestFiles(home, idOf(bundled)));
    // And in the first home, the plain file is the same version again.
    const again = JSON.parse((await cli(['etl', '--source', plain, '--json'], {}, home)).stdout);
    expect(again).toMatchObject({ reused: true });
    expect(idOf(again)).toBe(idOf(bundled));
  });

  it('the built binary finds the bundled copy from the package, whatever the working directory', async () => {
    const { done } = spawnCli(['etl', '--json'], home, { RAINOPS_SOURCE: '' });
    const r = await done;
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.source).toBe(WEATHER_CSV);
    expect(idOf(out)).toBe(idOf(bundled));
  });

  it('a .gz URL is decompressed too, also when the server sends it with Content-Encoding: gzip', async () => {
    const gz = readFileSync(WEATHER_CSV);
    const server = createServer((req, res) => {
      const encoded = req.url === '/encoded/weatherAUS.csv.gz';
      res.writeHead(200, {
        'content-type': 'application/gzip',
        'content-length': gz.length,
        ...(encoded ? { 'content-encoding': 'gzip' } : {}),
      });
      res.end(gz);
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const url of [`${base}/weatherAUS.csv.gz`, `${base}/encoded/weatherAUS.csv.gz`]) {
        const r = await cli(['etl', '--source', url, '--json'], {}, home);
        expect(r.code, r.stderr).toBe(0);
        const out = JSON.parse(r.stdout);
        expect(out.reused).toBe(true);
        expect(idOf(out)).toBe(idOf(bundled));
      }
    } finally {
      await new Promise((res) => server.close(res));
    }
  });

  it('RAINOPS_SOURCE and --source still override the bundled copy', async () => {
    const small = join(dir(), 'small.csv.gz');
    writeFileSync(
      small,
      gzipSync(
        `${weatherCsvText()
          .split('\n')
          .filter((l, i) => i === 0 || (i % 50 === 0 && l !== ''))
          .join('\n')}\n`,
      ),
    );
    const viaEnv = JSON.parse((await cli(['etl', '--json'], { RAINOPS_SOURCE: small }, dir())).stdout);
    expect(viaEnv.source).toBe(small);
    expect(viaEnv.rows.total).toBe(2_909);
    const viaFlag = JSON.parse(
      (await cli(['etl', '--source', small, '--json'], { RAINOPS_SOURCE: '/nonexistent.csv' }, dir())).stdout,
    );
    expect(idOf(viaFlag)).toBe(idOf(viaEnv));
  });

  it('says so when a .gz source is damaged, and leaves no staging copy', async () => {
    const bad = join(dir(), 'bad.csv.gz');
    writeFileSync(bad, Buffer.concat([gzipSync('Date,Location\n').subarray(0, 12), Buffer.from('not gzip at all')]));
    const h = dir();
    const r = await cli(['etl', '--source', bad], {}, h);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`etl: ${bad} starts like gzip data but does not decompress`);
    expect(readdirSync(join(h, '.rainops/cache'))).toEqual([]);
  });

  it('sweeps staging copies older than a day left by a killed run, and keeps recent ones', async () => {
    const h = dir();
    const cache = join(h, '.rainops/cache');
    mkdirSync(cache, { recursive: true });
    const stale = join(cache, 'staging-killed.csv');
    const recent = join(cache, 'staging-running.csv');
    const oldDownload = join(cache, '0123456789abcdef.csv.tmp-4242');
    for (const f of [stale, recent, oldDownload]) writeFileSync(f, 'Date,Location\n');
    const twoDaysAgo = new Date(Date.now() - 48 * 3600_000);
    utimesSync(stale, twoDaysAgo, twoDaysAgo);
    utimesSync(oldDownload, twoDaysAgo, twoDaysAgo);
    const small = join(dir(), 'small.csv');
    writeFileSync(
      small,
      weatherCsvText()
        .slice(0, 200_000)
        .replace(/\n[^\n]*$/, '\n'),
    );
    expect((await cli(['etl', '--source', small], {}, h)).code).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(oldDownload)).toBe(false);
    expect(existsSync(recent)).toBe(true);
  });

  it('rejects bad limits as usage errors', async () => {
    const size = await cli(['etl', '--max-source-bytes', '12 apples']);
    expect(size.code).toBe(2);
    expect(size.stderr).toContain('--max-source-bytes: expected a size such as 500000000, 512M or 2G');
    const read = await cli(['etl', '--read-timeout', '0']);
    expect(read.code).toBe(2);
    expect(read.stderr).toContain('--read-timeout: expected a positive number of seconds');
    expect((await cli(['etl', '--connect-timeout', 'soon'])).code).toBe(2);
  });
});

describe('parseBytes', () => {
  it('reads plain bytes and powers of 1024, and refuses anything else', () => {
    expect(parseBytes('1000')).toBe(1000);
    expect(parseBytes('2G')).toBe(2 ** 31);
    expect(parseBytes('512MiB')).toBe(512 * 2 ** 20);
    expect(parseBytes('1.5k')).toBe(1536);
    expect(parseBytes('3 MB')).toBe(3 * 2 ** 20);
    for (const bad of ['0', '', 'abc', '-5', '1e9', '2X', '0.1']) expect(parseBytes(bad), bad).toBeNull();
  });
});
