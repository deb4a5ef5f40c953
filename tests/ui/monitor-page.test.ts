import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EXPERIMENT, silentLogger } from '../../src/core/context.js';
import { createMemoryStore } from '../../src/core/store/memory-store.js';
import { openRegistry } from '../../src/registry/index.js';
import type { Registry } from '../../src/registry/index.js';
import { CONTENT_SECURITY_POLICY, createUiApp } from '../../src/ui/app.js';
import type { UiApp } from '../../src/ui/app.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = 'Rain_dataset_model_prod';
const EVIL = '<script>alert("x")</script>';
const SVG = (title: string) => `<svg xmlns="http://www.w3.org/2000/svg"><title>${title}</title></svg>`;

interface FakeInput {
  feature: string;
  test: 'ks' | 'chi2';
  psi: number;
  statistic: number;
  pValue: number;
  missingChange: number;
  drifted: boolean;
}

interface FakeMonitor {
  version: number;
  against: 'dataset' | 'file' | 'predictions';
  source: string;
  inputs: FakeInput[];
  estimatedF1: number;
  /** Only when the current rows had labels. */
  f1?: number;
}

let clock = new Date('2026-12-01T08:00:00.000Z');
const store = createMemoryStore();
let registry: Registry;
let empty: Registry;
let app: UiApp;
let emptyApp: UiApp;
const ids: Record<string, string> = {};

/** Records a run the way core/monitor/monitor.ts does: its params, every figure as a metric, tags, artifacts. */
async function fakeMonitorRun(reg: Registry, f: FakeMonitor): Promise<string> {
  const run = await reg.startRun({ experiment: EXPERIMENT, name: 'monitor' });
  await reg.logParams(run.id, {
    model: MODEL,
    version: f.version,
    alias: 'prod_best',
    reference_dataset_id: 'ds0123456789abcd',
    against: f.against,
    source: f.source,
    since: '',
    until: '',
    psi_threshold: 0.2,
    p_value: 0.01,
    missing_threshold: 0.1,
    f1_drop: 0.05,
    share: 0,
  });
  const nDrifted = f.inputs.filter((i) => i.drifted).length;
  const m: Record<string, number> = {
    drifted: Number(nDrifted > 0),
    dataset_drifted: Number(nDrifted > 0),
    share_drifted: nDrifted / f.inputs.length,
    features_drifted: nDrifted,
    current_rows: 5000,
    reference_rows: 90000,
    prediction_psi: 0.012,
    prediction_ks: 0.03,
    prediction_p_value: 0.2,
    prediction_drifted: 0,
    rain_rate_reference: 0.21,
    rain_rate_current: 0.23,
    estimated_f1: f.estimatedF1,
    calibration_ece: 0.018,
    calibration_estimate_error: -0.004,
    decayed: 0,
  };
  if (f.f1 !== undefined) m.f1 = f.f1;
  for (const i of f.inputs) {
    m[`psi.${i.feature}`] = i.psi;
    m[`${i.test}.${i.feature}`] = i.statistic;
    m[`p_value.${i.feature}`] = i.pValue;
    m[`missing_change.${i.feature}`] = i.missingChange;
    m[`drifted.${i.feature}`] = Number(i.drifted);
  }
  await reg.logMetrics(run.id, m);
  await reg.logMetrics(run.id, { month_rows: 5000, month_estimated_f1: f.estimatedF1 }, 202611);
  await reg.setTags(run.id, {
    drifted: String(nDrifted > 0),
    drifted_features: f.inputs
      .filter((i) => i.drifted)
      .map((i) => i.feature)
      .join(','),
  });
  const charts: Record<string, string> = {
    'monitor/psi.svg': SVG('PSI'),
    'monitor/quality.svg': SVG('quality'),
    'monitor/report.html': '<!doctype html><title>report</title>',
  };
  for (const i of f.inputs) charts[`monitor/features/${i.feature}.svg`] = SVG(i.feature);
  for (const [path, body] of Object.entries(charts)) {
    const key = `runs/${run.id}/${path}`;
    const r = await store.put(key, body);
    await reg.logArtifact(run.id, { path, size: r.size, sha256: r.sha256, uri: `${store.url}/${key}` });
  }
  await reg.finishRun(run.id, { status: 'FINISHED' });
  return run.id;
}

const input = (feature: string, test: 'ks' | 'chi2', psi: number, pValue: number, drifted = false, missing = 0) => ({
  feature,
  test,
  psi,
  statistic: psi / 2,
  pValue,
  missingChange: missing,
  drifted,
});

const at = (iso: string) => {
  clock = new Date(iso);
};

beforeAll(async () => {
  const dir = tempDir();
  registry = await openRegistry(join(dir, 'registry.db'), { now: () => clock });
  empty = await openRegistry(join(dir, 'empty.db'));
  for (const [reg, name] of [
    [registry, 'etl'],
    [empty, 'etl'],
  ] as const) {
    const r = await reg.startRun({ experiment: EXPERIMENT, name });
    await reg.finishRun(r.id, { status: 'FINISHED' });
    ids[`etl-${reg === registry ? 'full' : 'empty'}`] = r.id;
  }
  await registry.registerDataset({
    id: 'ds0123456789abcd',
    source: 'weatherAUS.csv',
    sourceSha256: 'a'.repeat(64),
    rows: { raw: 1000, rejected: 3, dropped: 7, train: 792, test: 198 },
    split: { method: 'stratified', testSize: 0.2, seed: 42 },
    manifestSha256: 'b'.repeat(64),
    uri: `${store.url}/datasets/ds0123456789abcd`,
  });
  await registry.createModelVersion({
    model: MODEL,
    runId: ids['etl-full']!,
    datasetId: 'ds0123456789abcd',
    bundleUri: `${store.url}/models/${MODEL}/1`,
    bundleSha256: 'c'.repeat(64),
    engine: 'wasm',
    params: {},
    metrics: { test_f1: 0.6321 },
  });

  at('2026-12-01T09:00:00.000Z');
  ids.older = await fakeMonitorRun(registry, {
    version: 1,
    against: 'dataset',
    source: 'ds0123456789abcd',
    inputs: [input('MinTemp', 'ks', 0.011, 0.43), input('WindGustDir', 'chi2', 0.02, 0.3)],
    estimatedF1: 0.6254,
    f1: 0.6188,
  });
  at('2026-12-02T09:00:00.000Z');
  ids.newer = await fakeMonitorRun(registry, {
    version: 1,
    against: 'file',
    source: `/data/new ${EVIL}.csv`,
    inputs: [
      input('MinTemp', 'ks', 0.013, 0.5),
      input('Humidity3pm', 'ks', 0.4568, 1e-12, true),
      input('Pressure9am', 'ks', 0.1234, 0.001),
      input('RainToday', 'chi2', 0.05, 0.02, true, 0.25),
    ],
    estimatedF1: 0.5711,
  });
  at('2026-12-02T10:00:00.000Z');
  // A check that failed before its figures: listed, but the newest with figures is the one shown.
  const failed = await registry.startRun({ experiment: EXPERIMENT, name: 'monitor' });
  await registry.finishRun(failed.id, { status: 'FAILED', error: 'monitor: no current rows to compare' });
  ids.failed = failed.id;

  app = createUiApp({ registry, store, logger: silentLogger });
  emptyApp = createUiApp({ registry: empty, store, logger: silentLogger });
});

afterAll(async () => {
  await app?.close();
  await emptyApp?.close();
  await registry?.close();
  await empty?.close();
});

/** The page's text with hono/jsx's entities turned back, for asserting on sentences. */
const decoded = (html: string) =>
  html
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The <tr> of the per-input table for one feature. */
const inputRow = (html: string, feature: string) => {
  const m = new RegExp(`<tr[^>]*data-feature="${feature}"[^>]*>(.*?)</tr>`, 's').exec(html);
  if (!m) throw new Error(`no row for ${feature}`);
  return {
    tag: m[0].slice(0, m[0].indexOf('>') + 1),
    cells: [...m[1]!.matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map((c) => c[1]!),
  };
};

describe('/monitor', () => {
  test('without monitor runs it says how to make one, and links it from the nav', async () => {
    const res = await emptyApp.request('/monitor');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(decoded(html)).toContain("no monitor runs yet: run 'rainops monitor'");
    expect(html).not.toContain('id="monitor-runs"');
    expect(html).not.toContain(ids['etl-empty']!);
    expect(html).toContain('<a href="/monitor">Monitor</a>');
  });

  test('lists every monitor run newest first with what was checked against what and its verdict', async () => {
    const res = await app.request('/monitor');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    const html = await res.text();
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="/assets/ui.js" defer="">']);
    expect(html).not.toContain('no monitor runs yet');
    const rows = [...html.matchAll(/<tr data-run="([^"]+)"[^>]*>(.*?)<\/tr>/gs)];
    expect(rows.map((r) => r[1])).toEqual([ids.failed, ids.newer, ids.older]);
    expect(html).not.toContain(`data-run="${ids['etl-full']}"`);
    const cells = (i: number) => [...rows[i]![2]!.matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map((c) => c[1]!);
    const newer = cells(1);
    expect(newer[0]).toBe(`<a href="/monitor?run=${ids.newer}">2026-12-02 09:00:00Z</a>`);
    expect(newer[2]).toBe(`<a href="/models/${MODEL}">${MODEL} v1</a>`);
    expect(newer[3]).toContain('file: /data/new &lt;script&gt;');
    expect(newer[4]).toBe('<span class="verdict drifted">drifted</span>');
    expect(newer[5]).toBe('50% (2 of 4)');
    expect(newer[6]).toBe('0.5711');
    expect(newer[7]).toBe(''); // no labels: no real F1
    expect(newer[8]).toBe('0.6321');
    expect(newer[9]).toBe(`<a href="/runs/${ids.newer}">${ids.newer!.slice(0, 8)}</a>`);
    const older = cells(2);
    expect(older[3]).toBe('<a href="/datasets/ds0123456789abcd">ds0123456789abcd</a>');
    expect(older[4]).toBe('<span class="verdict ok">ok</span>');
    expect(older[5]).toBe('0% (0 of 2)');
    expect(older.slice(6, 9)).toEqual(['0.6254', '0.6188', '0.6321']);
    expect(cells(0)[1]).toContain('status-FAILED');
  });

  test('details the newest run with figures: inputs table with drifted rows highlighted, and its charts inline', async () => {
    const html = await (await app.request('/monitor')).text();
    expect(html).toContain(`<section id="monitor-run" data-run="${ids.newer}">`);
    expect(html).toContain(`<tr data-run="${ids.newer}" class="selected">`);
    const order = [...html.matchAll(/data-feature="(\w+)"/g)].map((m) => m[1]);
    // Drifted first, then watch, then stable, each by PSI.
    expect(order).toEqual(['Humidity3pm', 'RainToday', 'Pressure9am', 'MinTemp']);
    const hum = inputRow(html, 'Humidity3pm');
    expect(hum.tag).toContain('class="drifted"');
    expect(hum.cells).toEqual([
      `<a href="/runs/${ids.newer}/artifacts/monitor/features/Humidity3pm.svg">Humidity3pm</a>`,
      'ks',
      '0.4568',
      '0.2284',
      '1.000e-12',
      '0',
      'drifted',
    ]);
    const rain = inputRow(html, 'RainToday');
    expect(rain.tag).toContain('class="drifted"');
    expect(rain.cells.slice(1)).toEqual(['chi2', '0.05', '0.025', '0.02', '0.25', 'drifted']);
    // PSI 0.1234 with p 0.001: past half the threshold, so watch, not drifted.
    const pressure = inputRow(html, 'Pressure9am');
    expect(pressure.tag).toContain('class="watch"');
    expect(pressure.cells[6]).toBe('watch');
    const min = inputRow(html, 'MinTemp');
    expect(min.tag).not.toContain('class=');
    expect(min.cells[6]).toBe('stable');
    expect(decoded(html)).toContain('drift or decay past the thresholds');
    expect(decoded(html)).toContain('0.5711 (estimated) vs 0.6321 registered');

    const psi = `/runs/${ids.newer}/artifacts/monitor/psi.svg`;
    const quality = `/runs/${ids.newer}/artifacts/monitor/quality.svg`;
    expect(html).toContain(`<img src="${psi}" alt="PSI per input"/>`);
    expect(html).toContain(`<img src="${quality}" alt="quality by month"/>`);
    expect(html).toContain(`href="/runs/${ids.newer}/artifacts/monitor/report.html?download=1"`);
    // The image URLs are the run page's artifact route, so they serve the stored SVG.
    const img = await app.request(psi);
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/svg+xml');
    expect(await img.text()).toBe('<svg xmlns="http://www.w3.org/2000/svg"><title>PSI</title></svg>');
  });

  test('?run= picks another monitor run, by id or prefix', async () => {
    const html = await (await app.request(`/monitor?run=${ids.older!.slice(0, 12)}`)).text();
    expect(html).toContain(`<section id="monitor-run" data-run="${ids.older}">`);
    expect([...html.matchAll(/data-feature="(\w+)"/g)].map((m) => m[1])).toEqual(['WindGustDir', 'MinTemp']);
    expect(html).not.toContain('class="drifted"');
    expect(decoded(html)).toContain('0.6188 (labels), 0.6254 (estimated) vs 0.6321 registered');
    expect(html).toContain(`src="/runs/${ids.older}/artifacts/monitor/quality.svg"`);
    const failed = await (await app.request(`/monitor?run=${ids.failed}`)).text();
    expect(failed).toContain('monitor: no current rows to compare');
    expect(failed).toContain('this run recorded no per-input figures');
  });

  test('a run that is not a monitor run, or no run, is a 404 page that says so', async () => {
    const other = await app.request(`/monitor?run=${ids['etl-full']}`);
    expect(other.status).toBe(404);
    expect(await other.text()).toContain('is a etl run, not a monitor run');
    const none = await app.request('/monitor?run=zzzz');
    expect(none.status).toBe(404);
    expect(await none.text()).toContain('zzzz');
  });

  test('text recorded by a run is escaped, never markup', async () => {
    const html = await (await app.request(`/monitor?run=${ids.newer}`)).text();
    expect(html).not.toContain(EVIL);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    const evil = await app.request(`/monitor?run=${encodeURIComponent(EVIL)}`);
    expect(evil.status).toBe(404);
    expect(await evil.text()).not.toContain(EVIL);
  });
});
