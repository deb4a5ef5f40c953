/**
 * Monitoring bench: serve with and without --log-predictions (single-row POST /predict/, 50 connections),
 * and `rainops monitor --against predictions` over a million logged rows (time and peak memory).
 * Run after `npm run build`: `tsx bench/monitor.ts [--quick] [--rows N]`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import autocannon from 'autocannon';
import { EXAMPLE_FEATURES } from '../src/core/dataset/example.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/rainops.js');
const quick = process.argv.includes('--quick');
const rowsArg = process.argv.indexOf('--rows');
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 1_000_000;
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? process.argv[onlyArg + 1] : undefined;
const pairsArg = process.argv.indexOf('--pairs');
const PAIRS = pairsArg > 0 ? Number(process.argv[pairsArg + 1]) : 3;
const log = (m: string) => process.stderr.write(`${new Date().toISOString()} bench: ${m}\n`);

function run(
  home: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string; peak: number; ms: number }> {
  return new Promise((res) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: home,
      env: { ...process.env, RAINOPS_HOME: join(home, '.rainops') },
    });
    let stdout = '';
    let stderr = '';
    let peak = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) * 1024);
      } catch {
        // gone
      }
    }, 50);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      clearInterval(poll);
      res({ code: code ?? -1, stdout, stderr, peak, ms: performance.now() - t0 });
    });
  });
}

async function serveRps(
  home: string,
  extra: string[],
  seconds: number,
): Promise<{ rps: number; cpuUsPerRequest: number }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...extra], {
    cwd: home,
    env: { ...process.env, RAINOPS_HOME: join(home, '.rainops') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((res, rej) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) res(m[1]!);
    });
    child.on('close', () => rej(new Error(err)));
  });
  const body = JSON.stringify({ features: EXAMPLE_FEATURES });
  const opts = {
    url: `${url}/predict/`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    body,
    connections: 50,
  };
  await autocannon({ ...opts, duration: 1 });
  const cpu0 = cpuMs(child.pid!);
  const r = await autocannon({ ...opts, duration: seconds });
  const cpu = cpuMs(child.pid!) - cpu0;
  child.kill('SIGTERM');
  await new Promise((r2) => child.on('close', r2));
  return { rps: r.requests.average, cpuUsPerRequest: (cpu * 1000) / r.requests.total };
}

/** CPU time (user + system) of a process so far, from /proc: steadier than requests/s on a shared machine. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of the line, in clock ticks (100 per second on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function main() {
  const home = join(tmpdir(), `rainops-bench-monitor-${process.pid}`);
  mkdirSync(home, { recursive: true });
  const lines = gunzipSync(readFileSync(join(ROOT, 'data/weatherAUS.csv.gz')))
    .toString('utf8')
    .split('\n');
  writeFileSync(
    join(home, 'small.csv'),
    `${lines.filter((l, i) => i === 0 || (i % 24 === 0 && l !== '')).join('\n')}\n`,
  );
  writeFileSync(join(home, 'grid.json'), JSON.stringify({ learningRate: [0.1], maxDepth: [6], nEstimators: [300] }));
  log('training a model on a 1/24 sample');
  for (const args of [
    ['etl', '--source', 'small.csv'],
    ['optimize', '--grid', 'grid.json', '--cv', '2', '--engine', 'wasm'],
  ]) {
    const r = await run(home, args);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  const out: Record<string, unknown> = {};

  if (only !== 'monitor') {
    // Runs alternate, so that a neighbour's load falls on both sides alike; the best of each side counts.
    const seconds = quick ? 3 : 10;
    const plain: Array<{ rps: number; cpuUsPerRequest: number }> = [];
    const logged: Array<{ rps: number; cpuUsPerRequest: number }> = [];
    for (let k = 0; k < PAIRS; k++) {
      plain.push(await serveRps(home, [], seconds));
      logged.push(await serveRps(home, ['--log-predictions'], seconds));
    }
    const best = (a: typeof plain) => Math.max(...a.map((x) => x.rps));
    const leastCpu = (a: typeof plain) => Math.min(...a.map((x) => x.cpuUsPerRequest));
    out.serve = {
      seconds,
      plain,
      logged,
      ratio: best(logged) / best(plain),
      // Requests per CPU second logged vs plain: what the ratio would be on a machine of its own.
      cpu_ratio: leastCpu(plain) / leastCpu(logged),
      goal: '>= 0.9',
    };
    log(`serve: ${JSON.stringify(out.serve)}`);
  }
  if (only === 'serve') {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }

  // A million logged rows: the data set's rows with a probability, in files of 50,000 as a server writes them.
  const header = lines[0]!.split(',');
  const data = lines.slice(1).filter((l) => l !== '');
  const perFile = 50_000;
  const dir = join(home, '.rainops/store/predictions/Rain_dataset_model_prod/2026-12-01');
  mkdirSync(dir, { recursive: true });
  let written = 0;
  for (let f = 0; written < ROWS; f++) {
    const chunk: string[] = [];
    for (let i = 0; i < perFile && written < ROWS; i++, written++) {
      const cells = data[written % data.length]!.split(',');
      const inputs: Record<string, unknown> = {};
      header.forEach((h, j) => {
        if (h === 'RainTomorrow') return;
        const v = cells[j]!;
        inputs[h] = v === 'NA' ? null : /^[-\d.]+$/.test(v) ? Number(v) : v;
      });
      // A spread of probabilities without a random generator: the row number scrambled.
      const p = ((written * 2654435761) % 1000) / 1000;
      chunk.push(
        JSON.stringify({
          time: '2026-12-01T00:00:00.000Z',
          request_id: String(written),
          model: 'Rain_dataset_model_prod',
          version: 1,
          probability: p,
          prediction: p >= 0.5 ? 1 : 0,
          inputs,
        }),
      );
    }
    writeFileSync(join(dir, `bench-1-0-${f}.jsonl.gz`), gzipSync(`${chunk.join('\n')}\n`));
  }
  log(`wrote ${written} logged rows; running monitor`);
  const m = await run(home, ['monitor', '--against', 'predictions', '--since', '2026-12-01', '--json']);
  if (m.code !== 0 && m.code !== 3) throw new Error(m.stderr);
  const rows = JSON.parse(m.stdout).current.rows as number;
  out.monitor = { rows, seconds: m.ms / 1000, peak_rss_mib: m.peak / 2 ** 20 };
  log(`monitor: ${JSON.stringify(out.monitor)}`);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
