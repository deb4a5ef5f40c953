/**
 * npm run bench [-- --json] [-- --quick] [-- --skip-python] [-- --only etl,fit,grid,model,serve,registry,study]: SPEC section 7
 * (-- --scale N: etl, optimize and batch predict on N copies of the data set against 1x, see scale.ts)
 * side by side in one run (--only runs some sections, plus the ETL and optimize they need, into partial.*), and the
 * registry's own speed on SQLite and PostgreSQL (bench/registry.ts; PostgreSQL when RAINOPS_BENCH_PG_URL or
 * RAINOPS_TEST_PG_URL is set).
 * rainops is measured as a user runs it (the built binary); peers are the Python original's stack
 * (Debian's python3-pandas/sklearn/xgboost/fastapi/uvicorn) and a bare Node HTTP server.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import autocannon from 'autocannon';
import { loadDatasetMatrices } from '../src/core/dataset/load.js';
import { EXAMPLE_FEATURES } from '../src/core/dataset/example.js';
import { loadEngine } from '../src/core/models/engine.js';
import { createFileStore } from '../src/core/store/file-store.js';
import { benchRegistry } from './registry.js';
import type { RegistryBench, RegistryFigures } from './registry.js';
import { runScale } from './scale.js';
import { benchStudy } from './study.js';
import type { StudyBench } from './study.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/rainops.js');
const PY = '/usr/bin/python3';
const args = process.argv.slice(2);
const argv = new Set(args);
const quick = argv.has('--quick');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? '').split(',')) : null;
const wants = (section: 'etl' | 'fit' | 'grid' | 'model' | 'serve' | 'registry' | 'study') =>
  only === null || only.has(section);
// every section but the registry's and the study's works on the data set the ETL writes
const needsEtl = (['etl', 'fit', 'grid', 'model', 'serve'] as const).some(wants);
const RESULTS = only ? 'partial' : 'latest';
const log = (m: string) => process.stderr.write(`bench: ${m}\n`);

interface Proc {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<Proc> {
  const t0 = performance.now();
  return new Promise((res) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => res({ code, stdout, stderr, ms: performance.now() - t0 }));
  });
}

const rainops = (home: string, args: string[]) =>
  run(process.execPath, [BIN, ...args], { RAINOPS_HOME: join(home, '.rainops') }, home);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fresh = () => mkdtempSync(join(tmpdir(), 'rainops-bench-'));
// Both sides read one plain CSV: the bundled data set, decompressed once (SPEC section 7 times the plain file).
const CSV = join(fresh(), 'weatherAUS.csv');
writeFileSync(CSV, gunzipSync(readFileSync(join(ROOT, 'data/weatherAUS.csv.gz'))));
const pythonHas = async (mods: string) =>
  !argv.has('--skip-python') && existsSync(PY) && (await run(PY, ['-c', `import ${mods}`])).code === 0;
const must = (p: Proc, what: string) => {
  if (p.code !== 0)
    throw new Error(`${what} failed (exit ${p.code}): ${p.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return p;
};

/** Starts a server process and resolves once it prints its URL. */
function startServer(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  pattern: RegExp,
): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    let found = false;
    const onData = (d: Buffer) => {
      // Once listening, only drain: rescanning a growing access log would cost the load generator more than the server.
      if (found) return;
      seen += d.toString();
      const m = pattern.exec(seen);
      if (!m) return;
      found = true;
      res({
        url: m[1]!,
        pid: child.pid!,
        stop: () => new Promise((done) => (child.once('close', () => done()), child.kill('SIGTERM'))),
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => rej(new Error(`${cmd} exited with ${code} before listening: ${seen.slice(-500)}`)));
  });
}

async function waitForHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(url).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} never answered`);
}

async function load(url: string, body: string, connections: number, seconds: number) {
  const r = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
  });
  return {
    rps: r.requests.average,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    requests: r.requests.total,
  };
}

const peakRss = (pid: number) => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : null;
};

const EXAMPLE = EXAMPLE_FEATURES;

async function main() {
  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    quick,
  };
  const runs = quick || !wants('etl') ? 1 : 3;
  // Partial results survive a later stage failing.
  const save = () => {
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, `bench/results/${RESULTS}.json`), `${JSON.stringify(out, null, 2)}\n`);
  };

  if (needsEtl) await modelSections(out, runs, save);
  if (wants('registry')) {
    log('registry: log a metric, start and finish a run, list 10,000 runs; SQLite and PostgreSQL');
    out.registry = await benchRegistry();
  }
  if (wants('study')) {
    // --quick: the rows up to 2009 instead of the whole data set
    log(
      'study: optimize --study of 8 random trials x 3 folds, by 1 worker and by 2 workers (wasm, one fit per worker)',
    );
    out.study = await benchStudy({ trials: 8, cv: 3, engine: 'wasm', until: quick ? '2009-12-31' : undefined });
    save();
  }
  save();
  const md = markdown(out);
  writeFileSync(join(ROOT, `bench/results/${RESULTS}.md`), md);
  if (argv.has('--json')) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  else process.stdout.write(md);
}

async function modelSections(out: Record<string, unknown>, runs: number, save: () => void) {
  log('etl: rainops, whole process, fresh home each time');
  const etlMs: number[] = [];
  let home = '';
  let datasetId = '';
  for (let i = 0; i < runs; i++) {
    home = fresh();
    const r = must(await rainops(home, ['etl', '--source', CSV, '--json']), 'rainops etl');
    etlMs.push(r.ms);
    datasetId = JSON.parse(r.stdout).dataset_id;
  }
  const etlRun = JSON.parse((await rainops(home, ['runs', 'list', '--json', '--limit', '1'])).stdout)[0];
  const etl: Record<string, unknown> = {
    rainops_s: median(etlMs) / 1000,
    rainops_runs_s: etlMs.map((m) => m / 1000),
    rainops_peak_rss_bytes: etlRun.peak_rss_bytes,
  };
  if (wants('etl') && (await pythonHas('pandas, sklearn'))) {
    log('etl: Python peer');
    const py: number[] = [];
    let inner = 0;
    for (let i = 0; i < Math.min(runs, 2); i++) {
      const r = must(
        await run(PY, [join(ROOT, 'bench/peers/etl.py'), CSV, fresh(), join(ROOT, 'data/locations.json')]),
        'python etl',
      );
      py.push(r.ms);
      inner = JSON.parse(r.stdout).before_write_s;
    }
    Object.assign(etl, {
      python_s: median(py) / 1000,
      python_before_write_s: inner,
      ratio: median(etlMs) / median(py),
      goal: '<= 0.5',
    });
  }
  if (wants('etl')) out.etl = etl;
  save();
  if (wants('fit')) await fitSection(out, home, datasetId, runs);
  save();
  if (wants('grid')) await gridSection(out, home, datasetId);
  save();
  if (wants('model') || wants('serve')) await modelSection(out, home);
  save();
  if (wants('serve')) await serveSection(out, home);
  save();
}

async function fitSection(out: Record<string, unknown>, home: string, datasetId: string, runs: number) {
  const datasetDir = join(home, '.rainops/store/datasets', datasetId);
  log('fit: one XGBoost fit, depth 6, 100 trees, all training rows');
  const data = await loadDatasetMatrices(createFileStore(join(home, '.rainops/store')), datasetId);
  const fit: Record<string, unknown> = { rows: data.Xtrain.rows, cols: data.Xtrain.cols };
  for (const name of ['native', 'wasm'] as const) {
    const engine = await loadEngine(name).catch(
      (e: Error) => (log(`fit: ${name} engine unavailable: ${e.message}`), null),
    );
    if (!engine) continue;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const m = await engine.train(data.Xtrain, data.yTrain, { maxDepth: 6, nEstimators: 100, learningRate: 0.3 });
      times.push(performance.now() - t0);
      m.free();
    }
    fit[`${name}_s`] = median(times) / 1000;
  }
  if (await pythonHas('xgboost, pandas')) {
    const r = must(await run(PY, [join(ROOT, 'bench/peers/fit.py'), 'fit', datasetDir]), 'python fit');
    const py = JSON.parse(r.stdout);
    Object.assign(fit, { python_s: py.fit_s, python_xgboost: py.xgboost });
    if (typeof fit.native_s === 'number') fit.native_ratio = fit.native_s / py.fit_s;
    if (typeof fit.wasm_s === 'number') fit.wasm_ratio = fit.wasm_s / py.fit_s;
    fit.goal = 'native <= 1.2, wasm <= 5';
  }
  out.fit = fit;
}

async function gridSection(out: Record<string, unknown>, home: string, datasetId: string) {
  const datasetDir = join(home, '.rainops/store/datasets', datasetId);
  log('grid: 8 candidates x 5 folds, fixed rounds (no early stopping), refit of the best included on both sides');
  const gridFile = join(home, 'bench-grid.json');
  writeFileSync(gridFile, JSON.stringify({ learningRate: [0.1, 0.3], maxDepth: [3, 6], nEstimators: [100, 200] }));
  const grid: Record<string, unknown> = { candidates: 8, folds: 5 };
  for (const name of quick ? ['native'] : ['native', 'wasm']) {
    const r = await rainops(home, [
      'optimize',
      '--grid',
      gridFile,
      '--engine',
      name,
      '--early-stopping',
      '100000',
      '--promote',
      'never',
      '--json',
    ]);
    if (r.code === 0) grid[`${name}_s`] = r.ms / 1000;
    else log(`grid: ${name} failed: ${r.stderr.trim().split('\n').at(-1)}`);
  }
  if (await pythonHas('xgboost, sklearn, pandas')) {
    const r = must(
      await run(PY, [
        join(ROOT, 'bench/peers/fit.py'),
        'grid',
        datasetDir,
        JSON.stringify({ learning_rate: [0.1, 0.3], max_depth: [3, 6], n_estimators: [100, 200] }),
      ]),
      'python grid',
    );
    const py = JSON.parse(r.stdout);
    // Whole processes on both sides: reading the data, the search and the refit of the best.
    const pythonS = r.ms / 1000;
    Object.assign(grid, { python_s: pythonS, python_search_s: py.grid_s });
    if (typeof grid.native_s === 'number') grid.native_ratio = grid.native_s / pythonS;
    if (typeof grid.wasm_s === 'number') grid.wasm_ratio = grid.wasm_s / pythonS;
    grid.goal = 'native <= 1, wasm <= 3';
  }
  out.grid = grid;
}

async function modelSection(out: Record<string, unknown>, home: string) {
  log('model: plain `rainops optimize` (default grid, auto engine), test F1 / ROC AUC of the registered version');
  const opt = must(await rainops(home, ['optimize', '--json']), 'rainops optimize');
  const best = JSON.parse(opt.stdout);
  const optRun = JSON.parse((await rainops(home, ['runs', 'show', best.run_id, '--json'])).stdout);
  out.model = {
    engine: best.engine,
    optimize_s: opt.ms / 1000,
    test_f1: best.test.f1,
    test_roc_auc: best.test.roc_auc,
    threshold: best.test.threshold,
    best_params: best.best_params,
    peak_rss_bytes: optRun.peak_rss_bytes,
    python_reference: { f1: 0.658, f1_tuned: 0.693, roc_auc: 0.907 },
    goal: 'f1 >= 0.69, roc_auc >= 0.905',
  };
  if (!best.alias) must(await rainops(home, ['promote', best.model, String(best.version)]), 'promote');
}

async function serveSection(out: Record<string, unknown>, home: string) {
  log('serve: single-row POST /predict/ at 50 connections');
  const seconds = quick ? 3 : 10;
  const body = JSON.stringify({ features: EXAMPLE });
  const serve: Record<string, unknown> = { connections: 50, seconds };
  const server = await startServer(
    process.execPath,
    [BIN, 'serve', '--port', '0'],
    { RAINOPS_HOME: join(home, '.rainops') },
    /listening on (http:\/\/[^\s]+)/,
  );
  try {
    await waitForHttp(`${server.url}/health`);
    await load(`${server.url}/predict/`, body, 50, 1);
    serve.rainops = await load(`${server.url}/predict/`, body, 50, seconds);
    const rows = 1000;
    const batch = await load(
      `${server.url}/predict/batch`,
      JSON.stringify(Array.from({ length: rows }, () => EXAMPLE)),
      4,
      seconds,
    );
    serve.batch_rows_per_s = batch.rps * rows;
    serve.batch = batch;
    serve.rainops_peak_rss_bytes = peakRss(server.pid);
  } finally {
    await server.stop();
  }
  const bare = await startServer(
    process.execPath,
    [join(ROOT, 'bench/peers/bare-server.mjs'), '0'],
    {},
    /listening on (http:\/\/[^\s]+)/,
  );
  try {
    await load(`${bare.url}/`, body, 50, 1);
    serve.bare_node = await load(`${bare.url}/`, body, 50, seconds);
  } finally {
    await bare.stop();
  }
  const rps = (x: unknown) => (x as { rps: number }).rps;
  serve.ratio_to_bare = rps(serve.rainops) / rps(serve.bare_node);
  serve.goal = '>= 0.5 of bare Node, p99 <= 10 ms';
  if (await pythonHas('fastapi, uvicorn, xgboost, numpy')) {
    try {
      const version = JSON.parse((await rainops(home, ['models', 'list', '--json'])).stdout)[0].aliases.prod_best;
      const bundle = join(home, '.rainops/store/models/Rain_dataset_model_prod', String(version));
      const port = 18000 + Math.floor(Math.random() * 1000);
      const py = await startServer(
        PY,
        [join(ROOT, 'bench/peers/fastapi_app.py'), bundle, String(port)],
        {},
        /starting on (http:\/\/[^\s]+)/,
      );
      await waitForHttp(`${py.url}/docs`);
      try {
        serve.python_fastapi = await load(`${py.url}/predict/`, body, 50, seconds);
      } finally {
        await py.stop();
      }
    } catch (err) {
      serve.python_fastapi = { error: (err as Error).message };
    }
  }
  out.serve = serve;
}

function markdown(o: Record<string, unknown>): string {
  const n = (x: unknown, d = 2) => (typeof x === 'number' ? x.toFixed(d) : '-');
  const mb = (x: unknown) => (typeof x === 'number' ? `${(x / 1024 / 1024).toFixed(0)} MiB` : '-');
  // A section --only left out is an empty record: its cells print as "-".
  const e = (o.etl ?? {}) as Record<string, unknown>;
  const f = (o.fit ?? {}) as Record<string, unknown>;
  const g = (o.grid ?? {}) as Record<string, unknown>;
  const m = (o.model ?? {}) as Record<string, unknown>;
  const s = (o.serve ?? {}) as Record<string, Record<string, number> | number | string>;
  const r = (s.rainops ?? {}) as Record<string, number>;
  const b = (s.bare_node ?? {}) as Record<string, number>;
  const p = s.python_fastapi as Record<string, number> | undefined;
  const reg = o.registry as RegistryBench | undefined;
  const pgFigures = reg && 'log_metric_per_s' in reg.postgresql ? reg.postgresql : undefined;
  // registry rows: SQLite in the rainops column, PostgreSQL beside it
  const registryRow = (what: string, field: keyof RegistryFigures) => [
    `registry ${what}: SQLite / PostgreSQL`,
    reg ? `${n(reg.sqlite[field], 0)} / ${pgFigures ? n(pgFigures[field], 0) : 'skipped'}` : '-',
    '-',
    '-',
    '-',
  ];
  const st = o.study as StudyBench | undefined;
  const rows = [
    ['ETL, whole process (s)', n(e.rainops_s), n(e.python_s), n(e.ratio), '<= 0.5x'],
    ['one fit, native (s)', n(f.native_s), n(f.python_s), n(f.native_ratio), '<= 1.2x'],
    ['one fit, wasm (s)', n(f.wasm_s), n(f.python_s), n(f.wasm_ratio), '<= 5x'],
    ['grid 8 x 5 folds, native (s)', n(g.native_s, 1), n(g.python_s, 1), n(g.native_ratio), '<= 1x'],
    ['grid 8 x 5 folds, wasm (s)', n(g.wasm_s, 1), n(g.python_s, 1), n(g.wasm_ratio), '<= 3x'],
    [
      `test F1 / ROC AUC (${String(m.engine)}, ${n(m.optimize_s, 0)} s)`,
      `${n(m.test_f1, 3)} / ${n(m.test_roc_auc, 3)}`,
      '0.658 (0.693 tuned) / 0.907',
      '-',
      '>= 0.69 / >= 0.905',
    ],
    [
      'single-row predictions/s, 50 conns',
      n(r.rps, 0),
      p ? n(p.rps, 0) : '-',
      `${n(s.ratio_to_bare as number)} of bare Node (${n(b.rps, 0)}/s)`,
      '>= 0.5 of bare',
    ],
    [
      'p50 / p99 latency (ms)',
      `${n(r.p50_ms, 1)} / ${n(r.p99_ms, 1)}`,
      p ? `${n(p.p50_ms, 0)} / ${n(p.p99_ms, 0)}` : '-',
      '-',
      'p99 <= 10',
    ],
    ['batch rows/s (1,000-row requests)', n(s.batch_rows_per_s as number, 0), '-', '-', '-'],
    [
      'peak memory: etl / optimize / serve',
      `${mb(e.rainops_peak_rss_bytes)} / ${mb(m.peak_rss_bytes)} / ${mb(s.rainops_peak_rss_bytes)}`,
      '-',
      '-',
      '-',
    ],
    registryRow('metrics logged/s', 'log_metric_per_s'),
    registryRow('runs started + finished/s', 'start_finish_run_per_s'),
    registryRow('list 10,000 runs (ms)', 'list_ms'),
    [
      'study of 8 trials x 3 folds: 1 / 2 workers (s)',
      st ? `${n(st.one.seconds, 1)} / ${n(st.two.seconds, 1)}` : '-',
      '-',
      st ? `${n(st.speedup)}x faster with 2` : '-',
      '-',
    ],
  ];
  return `${['| what | rainops | Python original | ratio | goal |', '|---|---|---|---|---|', ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n')}\n`;
}

// --scale N measures the growth from 1x to N copies instead (bench/scale.ts).
(args.includes('--scale') ? runScale(args) : main()).catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
