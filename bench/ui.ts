/**
 * npm run bench:ui: server time of the web UI's heaviest pages, through app.request() (no socket, no browser).
 * The runs page over 10,000 runs (goal <= 200 ms), sorted by time and by a metric, and a run page with 1,000 metric steps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/core/context.js';
import { createMemoryStore } from '../src/core/store/memory-store.js';
import { openRegistry } from '../src/registry/index.js';
import { createUiApp } from '../src/ui/app.js';

const RUNS = 10_000;
const STEPS = 1_000;
const REPEAT = 15;

async function time(
  label: string,
  fn: () => Response | Promise<Response>,
): Promise<{ label: string; median_ms: number; p90_ms: number }> {
  const first = await fn();
  if (first.status !== 200) throw new Error(`${label}: status ${first.status}`);
  await first.text();
  const ms: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    const res = await fn();
    await res.text();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const r = {
    label,
    median_ms: Math.round(ms[Math.floor(REPEAT / 2)]! * 10) / 10,
    p90_ms: Math.round(ms[Math.floor(REPEAT * 0.9)]! * 10) / 10,
  };
  process.stdout.write(`${JSON.stringify(r)}\n`);
  return r;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rainops-bench-ui-'));
  // In memory: each write to a file registry syncs, and 10,000 runs with their values would take many minutes to
  // write. The reads timed here run the same SQL; a warm file registry reads from the page cache much the same.
  const registry = await openRegistry(':memory:');
  try {
    const t0 = performance.now();
    let parent = '';
    for (let i = 0; i < RUNS; i++) {
      // Every 20th run a search; the next 19 its trials (so 500 top-level runs, 9,500 trials).
      const isSearch = i % 20 === 0;
      const r = await registry.startRun({
        experiment: 'Rain Dataset',
        name: isSearch ? `optimize-${i}` : `trial-${i % 20}`,
        parentRunId: isSearch ? null : parent,
      });
      if (isSearch) parent = r.id;
      await registry.logParams(r.id, {
        max_depth: 3 + (i % 5),
        learning_rate: 0.01 * (1 + (i % 7)),
        search: 'random',
        dataset_id: 'ds0123456789abcd',
      });
      await registry.logMetrics(r.id, { cv_score: 0.6 + (i % 97) / 1000, test_f1: 0.6 + (i % 89) / 1000 });
      await registry.finishRun(r.id, { status: i % 50 === 7 ? 'FAILED' : 'FINISHED' });
    }
    const steps = await registry.startRun({ experiment: 'Rain Dataset', name: 'long-curves' });
    for (let s = 0; s < STEPS; s++) {
      await registry.logMetric(steps.id, 'fold0_valid_logloss', 0.7 - s / 5000, s);
      await registry.logMetric(steps.id, 'fold1_valid_logloss', 0.71 - s / 5000, s);
    }
    await registry.finishRun(steps.id, { status: 'FINISHED' });
    process.stderr.write(
      `bench: ${RUNS} runs and ${STEPS} steps x 2 written in ${Math.round(performance.now() - t0)} ms\n`,
    );

    const app = createUiApp({ registry, store: createMemoryStore(), logger: silentLogger });
    await time('runs page, 10,000 runs, newest first', () => app.request('/'));
    await time('runs page, sorted by -metrics.test_f1', () => app.request('/?sort=-metrics.test_f1'));
    await time('runs page, every run listed (all=1), page 100', () => app.request('/?all=1&page=100'));
    await time('runs page, filter metrics.cv_score>0.65', () =>
      app.request(`/?filter=${encodeURIComponent('metrics.cv_score>0.65')}`),
    );
    await time(`run page, ${STEPS} metric steps x 2 folds`, () => app.request(`/runs/${steps.id}`));
    await app.close();
  } finally {
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
