import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/core/context.js';
import { createMemoryStore } from '../../src/core/store/memory-store.js';
import { openRegistry } from '../../src/registry/index.js';
import type { Registry } from '../../src/registry/index.js';
import { CONTENT_SECURITY_POLICY, createUiApp } from '../../src/ui/app.js';
import type { UiApp } from '../../src/ui/app.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = 'Rain_dataset_model_prod';
const EVIL = '<script>alert("x")</script>';
const TOKEN = 'letmein-123';

let registry: Registry;
const store = createMemoryStore();
let app: UiApp;
let admin: UiApp;
const ids: Record<string, string> = {};

async function logArtifact(runId: string, path: string, body: string) {
  const r = await store.put(`runs/${runId}/${path}`, body);
  await registry.logArtifact(runId, {
    path,
    size: r.size,
    sha256: r.sha256,
    uri: `${store.url}/runs/${runId}/${path}`,
  });
}

beforeAll(async () => {
  registry = await openRegistry(join(tempDir(), 'registry.db'));
  const exp = 'Rain Dataset';
  const etl = await registry.startRun({ experiment: exp, name: 'etl', tags: { dataset_id: 'ds0123456789abcd' } });
  await registry.registerDataset({
    id: 'ds0123456789abcd',
    source: 'weatherAUS.csv',
    sourceSha256: 'a'.repeat(64),
    rows: { raw: 1000, rejected: 3, dropped: 7, train: 792, test: 198 },
    split: { method: 'stratified', testSize: 0.2, seed: 42 },
    manifestSha256: 'b'.repeat(64),
    uri: `${store.url}/datasets/ds0123456789abcd`,
  });
  await store.put(
    'datasets/ds0123456789abcd/manifest.json',
    JSON.stringify({
      features: ['MinTemp'],
      summary: {
        classBalance: {
          train: { rows: 792, positive: 177, positiveRate: 0.2235 },
          test: { rows: 198, positive: 44, positiveRate: 0.2222 },
        },
      },
    }),
  );
  await store.put(
    'datasets/ds0123456789abcd/preprocessed/X_train.csv',
    'Date,Location,MinTemp,Humidity3pm\n2009-01-01,Albury,1,NA\n2009-01-02,Albury,2,50\n2009-01-03,Albury,3,NA\n2009-01-04,Albury,4,70\n2009-01-05,Albury,5,NA\n',
  );
  await store.put(
    'datasets/ds0123456789abcd/pipes/inputs_pipeline.json',
    JSON.stringify({
      impute: { continuous: { MinTemp: 3, Humidity3pm: 60 } },
      clip: { MinTemp: { lo: 1.5, hi: 4.5 } },
    }),
  );
  await registry.linkRunDataset(etl.id, 'ds0123456789abcd', 'output');
  await registry.finishRun(etl.id, { status: 'FINISHED' });

  const opt = await registry.startRun({ experiment: exp, name: 'optimize', tags: { note: EVIL } });
  await registry.logParams(opt.id, { search: 'random', dataset_id: 'ds0123456789abcd' });
  await registry.linkRunDataset(opt.id, 'ds0123456789abcd', 'input');
  for (const [i, depth, score] of [
    [0, 3, 0.61],
    [1, 6, 0.66],
    [2, 4, 0.64],
  ] as const) {
    const t = await registry.startRun({ experiment: exp, name: `trial-${i}`, parentRunId: opt.id });
    await registry.logParams(t.id, { max_depth: depth, learning_rate: 0.1 + i / 100, trial: i });
    await registry.logMetrics(t.id, { cv_score: score });
    for (let step = 0; step < 5; step++) await registry.logMetric(t.id, 'fold_roc_auc', 0.8 + step / 100, step);
    await registry.finishRun(t.id, { status: 'FINISHED' });
    ids[`trial${i}`] = t.id;
  }
  await registry.logMetrics(opt.id, { test_f1: 0.71, cv_score: 0.66 });
  await logArtifact(opt.id, 'plots/roc.svg', '<svg xmlns="http://www.w3.org/2000/svg"><title>ROC curve</title></svg>');
  await logArtifact(
    opt.id,
    'curves.json',
    JSON.stringify({
      roc: [
        [0, 0],
        [0.2, 0.7],
        [1, 1],
      ],
      precision_recall: [
        [0, 1],
        [0.5, 0.8],
        [1, 0.22],
      ],
    }),
  );
  await logArtifact(opt.id, 'feature_importance.json', '[{"feature":"Humidity3pm","gain":218}]');
  await logArtifact(opt.id, `odd name ${EVIL}.csv`, 'a,b\n1,2\n');
  await registry.finishRun(opt.id, { status: 'FINISHED' });
  ids.opt = opt.id;

  const failed = await registry.startRun({ experiment: exp, name: 'retrain' });
  await registry.logMetrics(failed.id, { test_f1: 0.5 });
  await registry.finishRun(failed.id, { status: 'FAILED', error: 'out of memory while fitting' });
  ids.failed = failed.id;
  ids.running = (await registry.startRun({ experiment: exp, name: 'still-going' })).id;

  for (const v of [1, 2]) {
    await registry.createModelVersion({
      model: MODEL,
      runId: opt.id,
      datasetId: 'ds0123456789abcd',
      bundleUri: `${store.url}/models/${MODEL}/${v}`,
      bundleSha256: 'c'.repeat(64),
      engine: 'wasm',
      params: {},
      metrics: { test_f1: 0.7 + v / 100 },
    });
  }
  await registry.setAlias({
    model: MODEL,
    alias: 'prod_best',
    version: 1,
    expected: null,
    actor: 'tester',
    reason: `first ${EVIL}`,
  });

  for (let i = 0; i < 55; i++) {
    const r = await registry.startRun({ experiment: 'Many', name: `bulk-${String(i).padStart(2, '0')}` });
    await registry.logMetrics(r.id, { score: i });
    await registry.finishRun(r.id, { status: 'FINISHED' });
  }
  app = createUiApp({ registry, store, logger: silentLogger });
  admin = createUiApp({ registry, store, logger: silentLogger, adminToken: TOKEN, actor: 'ui tester' });
});

afterAll(async () => {
  await app.close();
  await admin.close();
  await registry.close();
});

const text = async (res: Response) => res.text();

describe('runs page', () => {
  test('lists runs with statuses, trials beneath their parent, a CSP and no inline script', async () => {
    const res = await app.request('/?experiment=Rain+Dataset');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-inline');
    const html = await text(res);
    // The only script is the package's own file.
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="/assets/ui.js" defer="">']);
    for (const name of ['etl', 'optimize', 'trial-0', 'trial-1', 'trial-2', 'retrain', 'still-going'])
      expect(html).toContain(`>${name}</a>`);
    expect(html).toContain('out of memory while fitting');
    expect(html).toMatch(/status-RUNNING/);
    expect(html).toMatch(/running on .+ \(pid \d+\)/);
    // Trials follow their parent, oldest first.
    const at = (id: string) => html.indexOf(`data-run="${id}"`);
    expect(at(ids.opt!)).toBeGreaterThan(-1);
    expect(at(ids.trial0!)).toBeGreaterThan(at(ids.opt!));
    expect(at(ids.trial1!)).toBeGreaterThan(at(ids.trial0!));
    expect(html).toContain('class="trial"');
  });

  test("filters with the CLI grammar and shows a bad filter's message above the form", async () => {
    const html = await text(await app.request(`/?filter=${encodeURIComponent('metrics.test_f1>0.6')}`));
    expect(html).toContain('>optimize</a>');
    expect(html).not.toContain('>retrain</a>');
    const bad = await app.request(`/?filter=${encodeURIComponent('metrics.test_f1 ~ 3')}`);
    expect(bad.status).toBe(200);
    expect(await text(bad)).toContain('FIELD.KEY OP VALUE');
    const unknown = await app.request(`/?filter=${encodeURIComponent('metrics.nope>1')}`);
    expect(unknown.status).toBe(200);
    expect(await text(unknown)).toContain('known keys');
  });

  test('sorts by a column and pages through 55 runs', async () => {
    const asc = await text(await app.request('/?experiment=Many&sort=metrics.score'));
    expect(asc.indexOf('>bulk-00<')).toBeLessThan(asc.indexOf('>bulk-01<'));
    expect(asc).toContain('rel="next"');
    expect(asc).not.toContain('>bulk-50<');
    const page2 = await text(await app.request('/?experiment=Many&sort=metrics.score&page=2'));
    expect(page2.match(/>bulk-\d\d</g)).toEqual(['>bulk-50<', '>bulk-51<', '>bulk-52<', '>bulk-53<', '>bulk-54<']);
    expect(page2).not.toContain('rel="next"');
    const desc = await text(await app.request('/?experiment=Many&sort=-metrics.score'));
    expect(desc.indexOf('>bulk-54<')).toBeLessThan(desc.indexOf('>bulk-53<'));
  });
});

describe('run page', () => {
  test('a unique prefix opens the run; a tag holding <script> stays text', async () => {
    const res = await app.request(`/runs/${ids.opt!.slice(0, 10)}`);
    expect(res.status).toBe(200);
    const html = await text(res);
    expect(html).not.toContain(EVIL);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain(`src="/runs/${ids.opt}/artifacts/plots/roc.svg"`);
    expect(html).toContain('Humidity3pm'); // the JSON preview
    expect(html).toContain('>ds0123456789abcd</a>');
    expect(html).toContain(`/models/${MODEL}`);
  });

  test('step metrics become line charts', async () => {
    const html = await text(await app.request(`/runs/${ids.trial0}`));
    expect(html).toContain('<title>fold_roc_auc</title>');
    expect(html).toMatch(/<polyline points="[\d., ]+"/);
  });

  test('artifacts stream from the store with a sandboxing CSP; unknown ones are 404', async () => {
    const res = await app.request(`/runs/${ids.opt}/artifacts/plots/roc.svg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/svg+xml');
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
    expect(await text(res)).toContain('<title>ROC curve</title>');
    const dl = await app.request(`/runs/${ids.opt}/artifacts/feature_importance.json?download=1`);
    expect(dl.headers.get('content-disposition')).toBe('attachment; filename="feature_importance.json"');
    expect(await text(dl)).toBe('[{"feature":"Humidity3pm","gain":218}]');
    const odd = await app.request(
      `/runs/${ids.opt}/artifacts/${encodeURIComponent(`odd name ${EVIL}.csv`)}?download=1`,
    );
    expect(odd.status).toBe(200);
    // The last path segment of `odd name <script>...</script>.csv`, made safe for the header.
    expect(odd.headers.get('content-disposition')).toBe('attachment; filename="script_.csv"');
    expect(await text(odd)).toBe('a,b\n1,2\n');
    expect((await app.request(`/runs/${ids.opt}/artifacts/nothing.svg`)).status).toBe(404);
  });

  test('an unknown or ambiguous id is a page that says so', async () => {
    const res = await app.request('/runs/zzzz');
    expect(res.status).toBe(404);
    expect(await text(res)).toContain('zzzz');
  });
});

describe('compare', () => {
  test('params and metrics side by side with deltas against the first run, and a scatter per hyperparameter', async () => {
    const res = await app.request(`/compare?runs=${ids.trial0},${ids.trial1}`);
    expect(res.status).toBe(200);
    const html = await text(res);
    expect(html).toContain('data-key="params.max_depth"');
    expect(html).toContain('(+3)'); // max_depth 3 -> 6
    expect(html).toContain('(+0.05)'); // cv_score 0.61 -> 0.66
    expect(html).toMatch(
      /class="same" data-key="params.learning_rate"|class="changed" data-key="params.learning_rate"/,
    );
    expect(html).toContain('<title>max_depth</title>');
    const search = await text(await app.request(`/compare?runs=${ids.opt}&runs=${ids.failed}`));
    expect(search).toContain('Hyperparameters against CV score (3 trials)');
    // Curves a run stored as points are overlaid; a run without them shows its plot files (it has none here).
    expect(search).toMatch(/<figure id="roc-overlay"><svg[\s\S]*?<polyline points="[\d., ]+"/);
    expect(search).toContain('<title>Precision-recall curves</title>');
    expect((await app.request(`/compare?runs=${ids.opt}`)).status).toBe(400);
  });

  test('only-changed marks the body so unchanged rows hide', async () => {
    const html = await text(await app.request(`/compare?runs=${ids.trial0},${ids.trial2}&changed=1`));
    expect(html).toContain('<body class="only-changed">');
  });
});

describe('models', () => {
  test('versions, aliases now and the alias history, escaped; no write links without a token', async () => {
    const html = await text(await app.request(`/models/${MODEL}`));
    expect(html).toContain('prod_best: unset → v1');
    expect(html).toContain('first &lt;script&gt;');
    expect(html).not.toContain('promote…');
    expect((await app.request(`/models/${MODEL}/promote?version=2`)).status).toBe(404);
  });

  test('promote: token once, then a session cookie; CSRF checked; the alias moves through the core function', async () => {
    const gate = await admin.request(`/models/${MODEL}/promote?version=2`);
    expect(gate.status).toBe(303);
    expect(gate.headers.get('location')).toMatch(/^\/login\?next=/);
    const form = (body: Record<string, string>) => new URLSearchParams(body).toString();
    const post = (path: string, body: Record<string, string>, cookie?: string) =>
      admin.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
        body: form(body),
      });
    expect((await post('/login', { token: 'wrong', next: '/' })).status).toBe(401);
    const login = await post('/login', { token: TOKEN, next: `/models/${MODEL}/promote?version=2` });
    expect(login.status).toBe(303);
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookie = setCookie.split(';')[0]!;
    const confirm = await text(await admin.request(`/models/${MODEL}/promote?version=2`, { headers: { cookie } }));
    expect(confirm).toContain('prod_best v1 → v2');
    // No bundles in this store: the page says why there is no head-to-head F1 instead of failing.
    expect(confirm).toContain('No head-to-head F1');
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirm)![1]!;
    expect(
      (
        await post(
          `/models/${MODEL}/promote`,
          { csrf: 'forged', version: '2', alias: 'prod_best', expected: '1' },
          cookie,
        )
      ).status,
    ).toBe(403);
    expect(
      (await post(`/models/${MODEL}/promote`, { csrf, version: '2', alias: 'prod_best', expected: '1' })).status,
    ).toBe(403);
    expect(await registry.getAlias(MODEL, 'prod_best')).toBe(1);
    const done = await post(
      `/models/${MODEL}/promote`,
      { csrf, version: '2', alias: 'prod_best', expected: '1', reason: 'looks better' },
      cookie,
    );
    expect(done.status).toBe(303);
    expect(await registry.getAlias(MODEL, 'prod_best')).toBe(2);
    const last = (await registry.aliasHistory(MODEL, 'prod_best')).at(-1)!;
    expect(last).toMatchObject({ fromVersion: 1, toVersion: 2, actor: 'ui tester', reason: 'looks better' });
    // A stale confirmation (the alias moved since) is refused.
    const stale = await post(
      `/models/${MODEL}/promote`,
      { csrf, version: '2', alias: 'prod_best', expected: '1' },
      cookie,
    );
    expect(stale.status).toBe(409);
    const back = await post(`/models/${MODEL}/rollback`, { csrf, alias: 'prod_best', expected: '2' }, cookie);
    expect(back.status).toBe(303);
    expect(await registry.getAlias(MODEL, 'prod_best')).toBe(1);
  });
});

describe('data sets and predict', () => {
  test('the data set page shows row counts, split, class balance, sha256 and the runs that used it', async () => {
    const html = await text(await app.request('/datasets/ds0123'));
    expect(html).toContain('>792<');
    expect(html).toContain('>198<');
    expect(html).toContain('177 of 792 (22.4%)');
    expect(html).toContain('a'.repeat(64));
    expect(html).toContain('>optimize</a>');
    // Per feature of the training rows: missing rate, min/quartiles/max, the pipeline's fill value and clip range.
    const row = (name: string) => new RegExp(`<tr><td>${name}</td>(.*?)</tr>`).exec(html)?.[1] ?? '';
    const cells = (name: string) => [...row(name).matchAll(/<td class="num">([^<]*)<\/td>/g)].map((m) => m[1]);
    expect(cells('MinTemp')).toEqual(['0%', '1', '2', '3', '4', '5', '3']);
    expect(row('MinTemp')).toContain('1.5 to 4.5');
    expect(cells('Humidity3pm')).toEqual(['60%', '50', '55', '60', '65', '70', '60']);
    expect(row('MinTemp')).toContain('<svg');
  });

  test('the predict form has 22 labelled inputs with the example day and the schema bounds', async () => {
    const html = await text(await app.request('/predict'));
    expect(html.match(/<label for="f-/g)?.length).toBe(22);
    expect(html).toMatch(/<select id="f-Location" name="Location"/);
    expect(html).toMatch(/<option value="Adelaide" selected="">/);
    expect(html).toMatch(/name="Humidity3pm" type="number" step="any" required="" value="95" min="0" max="100"/);
    expect(html).toContain('<button type="submit">Predict</button>');
  });

  test('predicting without a registered bundle says what is missing', async () => {
    const res = await app.request('/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Date=2024-08-26',
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await text(res)).toContain('id="predict-error"');
  });
});
