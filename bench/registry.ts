/**
 * Registry operations per second on each backend: log a metric, start and finish a run, list 10,000 runs.
 * `npx tsx bench/registry.ts [postgres://...]` (default PostgreSQL URL: RAINOPS_BENCH_PG_URL; skipped without one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openRegistry, redactUrl } from '../src/registry/index.js';

const log = (m: string) => process.stderr.write(`bench registry: ${m}\n`);

async function rate(n: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await op(i);
  return Math.round((n / (performance.now() - t0)) * 1000);
}

async function measure(target: string) {
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

const dir = mkdtempSync(join(tmpdir(), 'rainops-bench-registry-'));
const pgUrl = process.argv[2] ?? process.env.RAINOPS_BENCH_PG_URL;
const results: Record<string, unknown> = {};
try {
  results.sqlite = await measure(join(dir, 'registry.db'));
  log(`sqlite ${JSON.stringify(results.sqlite)}`);
  if (pgUrl) {
    // a fresh database, so earlier runs do not count
    const db = `rainops_bench_${process.pid}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${db}`);
    const url = new URL(pgUrl);
    url.pathname = `/${db}`;
    try {
      results.postgresql = await measure(url.href);
      log(`postgresql ${redactUrl(url.href)} ${JSON.stringify(results.postgresql)}`);
    } finally {
      await admin.query(`DROP DATABASE ${db} WITH (FORCE)`);
      await admin.end();
    }
  } else log('no PostgreSQL URL given: only SQLite measured');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
