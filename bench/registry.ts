/**
 * Registry operations per second on each backend: log a metric (500 a round), start and finish a run (200 a round),
 * each the median of three rounds; then list 10,000 runs.
 * `npx tsx bench/registry.ts [postgres://...]`, or `npm run bench -- --only registry` as a section of bench/run.ts.
 * PostgreSQL: the URL given, else RAINOPS_BENCH_PG_URL, else RAINOPS_TEST_PG_URL; skipped (and said so) without one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openRegistry, redactUrl } from '../src/registry/index.js';

const log = (m: string) => process.stderr.write(`bench registry: ${m}\n`);

/** What one backend measured. */
export interface RegistryFigures {
  log_metric_per_s: number;
  /** One startRun plus one finishRun. */
  start_finish_run_per_s: number;
  list_runs: number;
  list_ms: number;
}

export interface RegistryBench {
  sqlite: RegistryFigures;
  /** Why PostgreSQL was not measured, when it was not. */
  postgresql: RegistryFigures | { skipped: string };
}

/** Operations per second: the median of three rounds of `n`, so that one stall of a shared machine does not decide. */
async function rate(n: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const rounds: number[] = [];
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await op(round * n + i);
    rounds.push(Math.round((n / (performance.now() - t0)) * 1000));
  }
  return rounds.sort((a, b) => a - b)[1]!;
}

async function measure(target: string): Promise<RegistryFigures> {
  const registry = await openRegistry(target, { heartbeat: 'timer' });
  try {
    const run = await registry.startRun({ experiment: 'bench', name: 'metrics' });
    const metricPerS = await rate(500, (i) => registry.logMetric(run.id, 'loss', 1 / (i + 1), i));
    await registry.finishRun(run.id, { status: 'FINISHED' });
    const runPerS = await rate(200, async () => {
      const r = await registry.startRun({ experiment: 'bench', name: 'r' });
      await registry.finishRun(r.id, { status: 'FINISHED' });
    });
    // fill to 10,000 runs with a param and a metric each, then time the list
    const have = (await registry.status()).counts.runs;
    for (let i = have; i < 10_000; i++) {
      const r = await registry.startRun({ experiment: 'bench', name: `fill-${i}` });
      await registry.logParams(r.id, { max_depth: i % 10 });
      await registry.logMetric(r.id, 'f1', (i % 100) / 100);
      await registry.finishRun(r.id, { status: 'FINISHED' });
    }
    const t0 = performance.now();
    const listed = (await registry.listRuns()).length;
    const listMs = Math.round(performance.now() - t0);
    return { log_metric_per_s: metricPerS, start_finish_run_per_s: runPerS, list_runs: listed, list_ms: listMs };
  } finally {
    await registry.close();
  }
}

/** FORCE cannot end an autovacuum worker for a role without pg_signal_backend (42501): tried again until it left. */
async function dropDatabase(admin: pg.Client, db: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await admin.query(`DROP DATABASE ${db} WITH (FORCE)`);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '42501' || attempt >= 300) throw err;
      await admin.query('SELECT pg_sleep(0.1)');
    }
  }
}

/** The PostgreSQL server to measure on, if any: an argument, RAINOPS_BENCH_PG_URL, then RAINOPS_TEST_PG_URL. */
export function benchPgUrl(given?: string): string | undefined {
  return given ?? process.env.RAINOPS_BENCH_PG_URL ?? process.env.RAINOPS_TEST_PG_URL;
}

/** Both backends, each in a fresh registry (a temporary SQLite file; a new PostgreSQL database, dropped after). */
export async function benchRegistry(pgUrl = benchPgUrl()): Promise<RegistryBench> {
  const dir = mkdtempSync(join(tmpdir(), 'rainops-bench-registry-'));
  try {
    const sqlite = await measure(join(dir, 'registry.db'));
    log(`sqlite ${JSON.stringify(sqlite)}`);
    if (!pgUrl) {
      const skipped = 'no PostgreSQL URL (RAINOPS_BENCH_PG_URL or RAINOPS_TEST_PG_URL): PostgreSQL was skipped';
      log(skipped);
      return { sqlite, postgresql: { skipped } };
    }
    const db = `rainops_bench_${process.pid}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${db}`);
      const url = new URL(pgUrl);
      url.pathname = `/${db}`;
      try {
        const postgresql = await measure(url.href);
        log(`postgresql ${redactUrl(url.href)} ${JSON.stringify(postgresql)}`);
        return { sqlite, postgresql };
      } finally {
        await dropDatabase(admin, db);
      }
    } finally {
      await admin.end();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const results = await benchRegistry(benchPgUrl(process.argv[2]));
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
