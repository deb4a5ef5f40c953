import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir, WEATHER_CSV, weatherCsvText } from '../helpers/cli.js';
import { waitFor } from '../helpers/registry.js';
import { BIN, spawnCli } from '../helpers/spawn.js';

const idOf = (r: Record<string, unknown>) => (r.dataset_id ?? r.datasetId) as string;
const stagingFiles = (home: string) => {
  const cache = join(home, '.rainops/cache');
  return existsSync(cache) ? readdirSync(cache) : [];
};
const runs = async (home: string) =>
  JSON.parse((await cli(['runs', 'list', '--json'], {}, home)).stdout) as Array<{ name: string; status: string }>;

const dirs: string[] = [];
const dir = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('etl reads a source once: FIFOs and pipes work', () => {
  const home = dir();
  let first: Record<string, unknown>;

  it('a FIFO (mkfifo) with a writer, fed the gzip bytes: same data set as the bundled file', async () => {
    const fifo = join(dir(), 'weather.fifo');
    execFileSync('mkfifo', [fifo]);
    const etl = spawnCli(['etl', '--source', fifo, '--json'], home);
    // Opening the FIFO for writing waits for the reader, so the writer starts after etl does.
    const writer = pipeline(createReadStream(WEATHER_CSV), createWriteStream(fifo));
    const [r] = await Promise.all([etl.done, writer]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    first = JSON.parse(r.stdout);
    expect(first).toMatchObject({ reused: false, rows: { total: 145_460, train: 113_754, test: 28_439 } });
    const bundled = JSON.parse((await cli(['etl', '--source', WEATHER_CSV, '--json'], {}, home)).stdout);
    expect(bundled.reused).toBe(true);
    expect(idOf(bundled)).toBe(idOf(first));
    expect(stagingFiles(home)).toEqual([]);
  });

  it('/dev/stdin fed by a shell pipe, and <(cat file): the same data set again', async () => {
    for (const script of [
      'cat "$1" | "$0" "$2" etl --source /dev/stdin --json',
      'exec "$0" "$2" etl --source <(cat "$1") --json',
    ]) {
      const r = spawnSync('bash', ['-c', script, process.execPath, WEATHER_CSV, BIN], {
        cwd: home,
        env: { ...process.env, RAINOPS_HOME: join(home, '.rainops') },
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ reused: true, rows: { total: 145_460 } });
      expect(idOf(out)).toBe(idOf(first));
    }
  });

  it('/dev/stdin that is a socket (a Node child process pipe): the same data set again', async () => {
    const child = spawn(process.execPath, [BIN, 'etl', '--source', '/dev/stdin', '--json'], {
      cwd: home,
      env: { ...process.env, RAINOPS_HOME: join(home, '.rainops') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = new Promise<number | null>((res) => child.on('close', res));
    // A child that fails early closes its end; the error then shows in the assertions below.
    child.stdin.on('error', () => undefined);
    child.stdin.end(weatherCsvText());
    expect(await code, stderr).toBe(0);
    const out = JSON.parse(stdout);
    expect(out).toMatchObject({ reused: true, rows: { total: 145_460 } });
    expect(idOf(out)).toBe(idOf(first));
  });
});

describe('a read that blocks still ends on a signal', () => {
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal} to an etl waiting on a FIFO without a writer exits ${code}, marks the run FAILED and removes its staging file`, async () => {
      const home = dir();
      const fifo = join(dir(), 'nobody-writes.fifo');
      execFileSync('mkfifo', [fifo]);
      const etl = spawnCli(['etl', '--source', fifo], home);
      // The staging file exists once the source is open and etl waits for its first byte.
      await waitFor(() => stagingFiles(home).length === 1, 60_000);
      etl.child.kill(signal);
      const r = await etl.done;
      expect(r.code).toBe(code);
      expect(r.stderr).toContain(`rainops: interrupted by ${signal}; marked 1 run(s) FAILED`);
      expect(stagingFiles(home)).toEqual([]);
      expect(await runs(home)).toEqual([expect.objectContaining({ name: 'etl', status: 'FAILED' })]);
    }, 120_000);
  }
});

describe('a remote source that never ends, stalls or never answers', () => {
  let server: Server;
  let base: string;
  const header = weatherCsvText().slice(0, weatherCsvText().indexOf('\n') + 1);
  const row = `${weatherCsvText().split('\n')[1]}\n`;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/endless.csv') {
        // Rows as fast as the client takes them, for ever.
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.write(header);
        const chunk = row.repeat(1000);
        const more = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', more);
        };
        more();
      } else if (req.url === '/stalls.csv') {
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.write(header + row);
      }
      // Anything else: never answered.
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((res) => server.close(res));
  });

  it('stops at --max-source-bytes, fails the run and leaves no staging file', async () => {
    const home = dir();
    const r = await cli(['etl', '--source', `${base}/endless.csv`, '--max-source-bytes', '4M'], {}, home);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`rainops: etl: ${base}/endless.csv holds more than 4194304 bytes (--max-source-bytes)`);
    expect(stagingFiles(home)).toEqual([]);
    expect(await runs(home)).toEqual([expect.objectContaining({ name: 'etl', status: 'FAILED' })]);
  });

  it('gives up after --read-timeout without a byte', async () => {
    const home = dir();
    const r = await cli(['etl', '--source', `${base}/stalls.csv`, '--read-timeout', '0.5'], {}, home);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`rainops: etl: ${base}/stalls\\.csv sent nothing for 0\\.5 s \\(--read-timeout\\) after \\d+ bytes`),
    );
    expect(stagingFiles(home)).toEqual([]);
  });

  it('gives up after --connect-timeout when the server never answers', async () => {
    const home = dir();
    const r = await cli(['etl', '--source', `${base}/silent.csv`, '--connect-timeout', '0.5'], {}, home);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`rainops: etl: ${base}/silent.csv did not answer within 0.5 s (--connect-timeout)`);
    expect(stagingFiles(home)).toEqual([]);
  });

  it('SIGTERM while a never-ending download streams removes the staging file', async () => {
    const home = dir();
    const etl = spawnCli(['etl', '--source', `${base}/endless.csv`], home);
    // Wait until the staging copy has grown, so the signal lands mid-download.
    const grown = () =>
      stagingFiles(home).some(
        (f) => statSync(join(home, '.rainops/cache', f), { throwIfNoEntry: false })?.size! > 1 << 20,
      );
    await waitFor(grown, 60_000);
    etl.child.kill('SIGTERM');
    const r = await etl.done;
    expect(r.code).toBe(143);
    expect(stagingFiles(home)).toEqual([]);
  }, 120_000);
});
