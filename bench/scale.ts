/**
 * npm run bench -- --scale N [--runs 3] [--skip-python]: the growth of etl, optimize (halving search) and batch
 * predict from the bundled data set to N copies of it, measured side by side in one run.
 *
 * The scaled CSV: copy k (0..N-1) of every row is moved back k x 4018 days (11 years and 3 days, about 11
 * calendar years). Shifting by whole days keeps every date a real one, Feb 29 included (it lands on Feb 28,
 * Feb 29 or Mar 1 of the year 11k years earlier), and since one copy spans 3,524 days no two rows of a
 * station ever share a day; a date keeps its month and day or lands one day before. Years before 1000 are
 * written with four digits (0918-...), as YYYY-MM-DD allows.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { dayNumberOf, isoDay } from '../src/core/features/dates.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/rainops.js');
const PY = '/usr/bin/python3';
const TIME = '/usr/bin/time';
const SHIFT_DAYS = 4018;
const log = (m: string) => process.stderr.write(`bench: ${m}\n`);

interface Measured {
  code: number | null;
  s: number;
  peakRssBytes: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a process to its end: wall time, and its peak RSS from /usr/bin/time -v when that exists. */
function measure(cmd: string, args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<Measured> {
  const timed = existsSync(TIME);
  const t0 = performance.now();
  return new Promise((res) => {
    const child = spawn(timed ? TIME : cmd, timed ? ['-v', cmd, ...args] : args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      res({
        code,
        s: (performance.now() - t0) / 1000,
        peakRssBytes: rss ? Number(rss[1]) * 1024 : null,
        stdout,
        // /usr/bin/time's report follows the command's own stderr.
        stderr: timed ? stderr.split('\tCommand being timed:')[0]! : stderr,
      });
    });
  });
}

/** Writes `n` copies of the CSV text, copy k moved back k x SHIFT_DAYS days; returns the rows written. */
export function buildScaledCsv(text: string, n: number, path: string): number {
  const lines = text.split('\n');
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  const header = lines[0]!;
  const dateAt = header.split(',').indexOf('Date');
  if (dateAt !== 0) throw new Error('the bench expects Date as the first column');
  const fd = openSync(path, 'w');
  let rows = 0;
  try {
    writeSync(fd, `${header}\n`);
    for (let k = 0; k < n; k++) {
      const shifted = new Map<string, string>();
      const out: string[] = [];
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i]!;
        const date = line.slice(0, 10);
        let moved = shifted.get(date);
        if (moved === undefined) {
          const day = dayNumberOf(date);
          moved = day === null ? date : isoDay(day - k * SHIFT_DAYS);
          shifted.set(date, moved);
        }
        out.push(moved + line.slice(10));
        rows++;
        if (out.length === 50_000) writeSync(fd, `${out.splice(0).join('\n')}\n`);
      }
      if (out.length) writeSync(fd, `${out.join('\n')}\n`);
    }
  } finally {
    closeSync(fd);
  }
  return rows;
}

const best = (xs: Measured[]) => xs.reduce((a, b) => (b.s < a.s ? b : a));

export async function scaleBench(scale: number, runs: number, skipPython: boolean): Promise<Record<string, unknown>> {
  const work = mkdtempSync(join(tmpdir(), 'rainops-scale-'));
  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    scale,
    runs,
    load_before: loadavg(),
    shift: `copy k moved back k x ${SHIFT_DAYS} days`,
  };
  try {
    const text = gunzipSync(readFileSync(join(ROOT, 'data/weatherAUS.csv.gz'))).toString('utf8');
    const csv1 = join(work, 'weatherAUS.csv');
    writeFileSync(csv1, text);
    const csvN = join(work, `weatherAUS-x${scale}.csv`);
    log(`building ${csvN}`);
    const rowsN = buildScaledCsv(text, scale, csvN);
    const sources: Record<string, string> = { '1x': csv1, [`${scale}x`]: csvN };
    out.rows = { '1x': rowsN / scale, [`${scale}x`]: rowsN };

    const homes: Record<string, string> = {};
    const etl: Record<string, unknown> = {};
    for (const [label, source] of Object.entries(sources)) {
      const tries: Measured[] = [];
      for (let i = 0; i < runs; i++) {
        const home = mkdtempSync(join(work, `home-${label}-`));
        log(`etl ${label}, run ${i + 1} of ${runs}`);
        const r = await measure(process.execPath, [BIN, 'etl', '--source', source, '--json'], { RAINOPS_HOME: home });
        if (r.code !== 0) throw new Error(`etl ${label} failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
        tries.push(r);
        if (homes[label]) rmSync(homes[label]!, { recursive: true, force: true });
        homes[label] = home;
      }
      const b = best(tries);
      etl[label] = {
        best_s: b.s,
        runs_s: tries.map((t) => t.s),
        peak_rss_bytes: Math.max(...tries.map((t) => t.peakRssBytes ?? 0)) || null,
      };
    }
    const e1 = etl['1x'] as { best_s: number; peak_rss_bytes: number | null };
    const eN = etl[`${scale}x`] as { best_s: number; peak_rss_bytes: number | null };
    etl.time_ratio = eN.best_s / e1.best_s;
    etl.goal = `time <= ${scale}x of 1x; peak RSS <= 700 MiB at 10x`;
    if (!skipPython && existsSync(PY) && (await measure(PY, ['-c', 'import pandas, sklearn'])).code === 0) {
      const py: Measured[] = [];
      for (let i = 0; i < runs; i++) {
        log(`etl 1x, Python peer, run ${i + 1} of ${runs}`);
        py.push(
          await measure(PY, [
            join(ROOT, 'bench/peers/etl.py'),
            csv1,
            mkdtempSync(join(work, 'py-')),
            join(ROOT, 'data/locations.json'),
          ]),
        );
      }
      etl.python_1x_best_s = best(py).s;
      etl.python_1x_runs_s = py.map((p) => p.s);
      etl.ratio_1x_to_python = e1.best_s / best(py).s;
    }
    out.etl = etl;

    const optimize: Record<string, unknown> = {};
    for (const label of Object.keys(sources)) {
      log(`optimize --search halving on ${label}`);
      const r = await measure(
        process.execPath,
        [BIN, 'optimize', '--search', 'halving', '--promote', 'always', '--json'],
        {
          RAINOPS_HOME: homes[label]!,
        },
      );
      if (r.code === 2) {
        optimize.skipped = `optimize rejected --search halving: ${r.stderr.trim().split('\n').at(-1)}`;
        log(`optimize: skipped (${optimize.skipped})`);
        break;
      }
      optimize[label] = { s: r.s, peak_rss_bytes: r.peakRssBytes, exit: r.code };
    }
    if (optimize['1x'] && optimize[`${scale}x`])
      optimize.time_ratio = (optimize[`${scale}x`] as { s: number }).s / (optimize['1x'] as { s: number }).s;
    out.optimize = optimize;

    // Batch predict needs a model: the halving search's on 1x, else one quick trial to have something to score with.
    if ((optimize['1x'] as { exit?: number } | undefined)?.exit !== 0) {
      log('predict: training a one-trial model on 1x to score with');
      const r = await measure(
        process.execPath,
        [BIN, 'optimize', '--search', 'random', '--trials', '1', '--cv', '2', '--promote', 'always', '--json'],
        { RAINOPS_HOME: homes['1x']! },
      );
      if (r.code !== 0) throw new Error(`optimize for predict failed: ${r.stderr.trim().split('\n').at(-1)}`);
    }
    const predict: Record<string, unknown> = {};
    for (const [label, source] of Object.entries(sources)) {
      log(`predict --input ${label}`);
      const r = await measure(
        process.execPath,
        [BIN, 'predict', '--input', source, '--output', join(work, `preds-${label}.csv`)],
        { RAINOPS_HOME: homes['1x']! },
      );
      predict[label] = { s: r.s, peak_rss_bytes: r.peakRssBytes, exit: r.code };
      rmSync(join(work, `preds-${label}.csv`), { force: true });
    }
    predict.time_ratio = (predict[`${scale}x`] as { s: number }).s / (predict['1x'] as { s: number }).s;
    out.predict = predict;
    out.load_after = loadavg();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}

export function scaleMarkdown(o: Record<string, unknown>): string {
  const scale = o.scale as number;
  const n = (x: unknown, d = 2) => (typeof x === 'number' ? x.toFixed(d) : '-');
  const mb = (x: unknown) => (typeof x === 'number' ? `${(x / 1024 / 1024).toFixed(0)} MiB` : '-');
  const get = (section: string, label: string) =>
    ((o[section] as Record<string, unknown> | undefined)?.[label] ?? {}) as Record<string, unknown>;
  const row = (what: string, section: string, key: 'best_s' | 's') => {
    const a = get(section, '1x');
    const b = get(section, `${scale}x`);
    const ratio =
      typeof a[key] === 'number' && typeof b[key] === 'number' ? (b[key] as number) / (a[key] as number) : null;
    return `| ${what} | ${n(a[key])} s, ${mb(a.peak_rss_bytes)} | ${n(b[key])} s, ${mb(b.peak_rss_bytes)} | ${n(ratio)} |`;
  };
  const e = (o.etl ?? {}) as Record<string, unknown>;
  const opt = (o.optimize ?? {}) as Record<string, unknown>;
  return `${[
    `| what | 1x | ${scale}x | time ratio |`,
    '|---|---|---|---|',
    row('etl (whole process, best of runs)', 'etl', 'best_s'),
    opt.skipped
      ? `| optimize --search halving | skipped | skipped | - |`
      : row('optimize --search halving', 'optimize', 's'),
    row('predict --input (batch)', 'predict', 's'),
    `| Python original's ETL, 1x | ${n(e.python_1x_best_s)} s | - | rainops / Python ${n(e.ratio_1x_to_python)} |`,
  ].join('\n')}\n${opt.skipped ? `\n${String(opt.skipped)}\n` : ''}`;
}

export async function runScale(args: string[]): Promise<void> {
  const at = args.indexOf('--scale');
  const scale = Number(args[at + 1]);
  if (!Number.isInteger(scale) || scale < 2) throw new Error('--scale takes a whole number of copies, 2 or more');
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
  const out = await scaleBench(scale, runs, args.includes('--skip-python'));
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, `bench/results/scale-${scale}.json`), `${JSON.stringify(out, null, 2)}\n`);
  const md = scaleMarkdown(out);
  writeFileSync(join(ROOT, `bench/results/scale-${scale}.md`), md);
  process.stdout.write(args.includes('--json') ? `${JSON.stringify(out, null, 2)}\n` : md);
}
