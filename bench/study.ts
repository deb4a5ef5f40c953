/**
 * A shared search (optimize --study) of 8 random trials, run by 1 worker and then by 2 workers on this machine.
 * `npx tsx bench/study.ts [--trials 8] [--cv 3] [--until YYYY-MM-DD] [--engine wasm] [--registry URL]`
 * Each worker fits one fold at a time (--jobs 1), so two workers use two cores where one uses one. Built CLI needed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const BIN = resolve(import.meta.dirname, '../bin/rainops.js');
const log = (m: string) => process.stderr.write(`bench study: ${m}\n`);

function rainops(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

export interface StudyBenchOptions {
  trials: number;
  cv: number;
  /** Only rows up to this date (default: the whole bundled data set). */
  until?: string | undefined;
  engine: string;
  /** The registry URL (default: a SQLite file in the bench's home). */
  registry?: string | undefined;
}

export interface StudyRun {
  workers: number;
  seconds: number;
  trials_per_worker: number[];
  versions: number;
}

export interface StudyBench {
  trials: number;
  cv: number;
  until: string | null;
  engine: string;
  one: StudyRun;
  two: StudyRun;
  speedup: number;
}

async function study(
  name: string,
  workers: number,
  o: StudyBenchOptions,
  env: Record<string, string>,
): Promise<StudyRun> {
  const args = ['optimize', '--study', name, '--search', 'random', '--trials', String(o.trials), '--cv', String(o.cv)];
  const t0 = performance.now();
  const outs = await Promise.all(
    Array.from({ length: workers }, (_, w) =>
      rainops([...args, '--jobs', '1', '--engine', o.engine, '--promote', 'never', '--json'], {
        ...env,
        RAINOPS_HOST: `bench-worker-${w + 1}`,
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  for (const o of outs) if (o.code !== 0) throw new Error(`a worker failed (exit ${o.code}): ${o.stderr.slice(-2000)}`);
  const reports = outs.map((o) => JSON.parse(o.stdout) as { version: number; study: { trials_here: number } });
  return {
    workers,
    seconds: Math.round(seconds * 10) / 10,
    trials_per_worker: reports.map((r) => r.study.trials_here),
    versions: new Set(reports.map((r) => r.version)).size,
  };
}

/** One study of `trials` run by 1 worker, then another by 2 workers at once, in a fresh home. */
export async function benchStudy(o: StudyBenchOptions): Promise<StudyBench> {
  const home = mkdtempSync(join(tmpdir(), 'rainops-bench-study-'));
  const env: Record<string, string> = {
    RAINOPS_HOME: join(home, '.rainops'),
    ...(o.registry ? { RAINOPS_REGISTRY: o.registry } : {}),
  };
  try {
    const etl = await rainops(['etl', ...(o.until ? ['--until', o.until] : [])], env);
    if (etl.code !== 0) throw new Error(`etl failed: ${etl.stderr}`);
    log(`${o.trials} trials x ${o.cv} folds, engine ${o.engine}, one fold fit at a time per worker`);
    const one = await study('bench-1', 1, o, env);
    log(`1 worker: ${one.seconds} s`);
    const two = await study('bench-2', 2, o, env);
    log(`2 workers: ${two.seconds} s (trials per worker ${two.trials_per_worker.join(' + ')})`);
    const speedup = Math.round((one.seconds / two.seconds) * 100) / 100;
    return { trials: o.trials, cv: o.cv, until: o.until ?? null, engine: o.engine, one, two, speedup };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string', default: '8' },
      cv: { type: 'string', default: '3' },
      until: { type: 'string' },
      engine: { type: 'string', default: 'wasm' },
      registry: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const r = await benchStudy({
    trials: Number(values.trials),
    cv: Number(values.cv),
    until: values.until,
    engine: values.engine!,
    registry: values.registry,
  });
  process.stdout.write(
    values.json
      ? `${JSON.stringify(r, null, 2)}\n`
      : `study of ${r.trials} trials x ${r.cv} folds: 1 worker ${r.one.seconds} s, 2 workers ${r.two.seconds} s (${r.speedup}x; trials ${r.two.trials_per_worker.join(' + ')})\n`,
  );
}
