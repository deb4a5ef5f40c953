import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Predictor } from '../../src/core/bundle/predictor.js';
import { ANSWER_DRY, ANSWER_RAIN } from '../../src/core/bundle/predictor.js';
import { featuresToInput, PredictFeaturesSchema } from '../../src/core/dataset/schema.js';
import { loadPredictor } from '../../src/core/registration.js';
import { createApp } from '../../src/core/server/app.js';
import { createPredictCore } from '../../src/core/server/handlers.js';
import type { AppDeps } from '../../src/core/server/app.js';
import { createMetrics } from '../../src/core/server/metrics.js';
import { createModelHolder } from '../../src/core/server/model-holder.js';
import type { LoadedModel, ModelHolder } from '../../src/core/server/model-holder.js';
import { EXAMPLE, memoryLogger, MODEL, modelHome, seriesValue } from './helpers.js';
import type { ModelHome } from './helpers.js';

type Json = Record<string, any>;

let home: ModelHome;
let predictor: Predictor;
let holder: ModelHolder;

beforeAll(async () => {
  home = await modelHome(1);
  predictor = await loadPredictor(home.registry, home.store, MODEL, 'prod_best');
  holder = createModelHolder(
    { model: MODEL, alias: 'prod_best', pollMs: 0 },
    { registry: home.registry, store: home.store, logger: memoryLogger() },
  );
  await holder.init();
}, 120_000);
afterAll(() => home?.close());

function makeApp(extra: Partial<AppDeps> = {}) {
  const logger = memoryLogger();
  const log: string[] = [];
  const metrics = createMetrics();
  const app = createApp({ holder, metrics, logger, accessLog: (l) => log.push(l), ...extra });
  const post = (
    path: string,
    body: unknown,
    headers: Record<string, string> = { 'Content-Type': 'application/json' },
  ) => app.request(path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { app, post, log, logger, metrics };
}

const withFeature = (patch: Record<string, unknown>, drop: string[] = []) => {
  const f: Record<string, unknown> = { ...EXAMPLE.features, ...patch };
  for (const k of drop) delete f[k];
  return { features: f };
};

describe('the predictor', () => {
  it('scores one row exactly as it scores the same row in a batch', () => {
    const rows = [
      EXAMPLE.features,
      { ...EXAMPLE.features, Location: 'Darwin', Date: '2016-01-31', Humidity3pm: 20, RainToday: 1 },
      { ...EXAMPLE.features, Sunshine: 12, Evaporation: 9, WindGustDir: 'N', Pressure3pm: 1002, Location: 'Perth' },
      { ...EXAMPLE.features, Rainfall: 300, WindGustSpeed: 130, Date: '2024-02-29' },
    ].map((f) => featuresToInput(PredictFeaturesSchema.parse(f)));
    const batch = predictor.probabilities(rows);
    const single = rows.map((r) => predictor.predict(r).probability);
    expect(single).toEqual(Array.from(batch));
    // Different inputs, different answers: the rows did not all collapse to one value
    expect(new Set(single).size).toBe(rows.length);
  });
});

describe('POST /predict', () => {
  it("answers the original's curl example with the predictor's probability and text", async () => {
    const { post } = makeApp();
    const want = predictor.predict(featuresToInput(PredictFeaturesSchema.parse(EXAMPLE.features)));
    for (const path of ['/predict', '/predict/']) {
      const res = await post(path, EXAMPLE);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as Json;
      expect(Object.keys(body)).toEqual(['prediction_bool', 'prediction_str', 'probability', 'model']);
      expect(body.probability).toBe(want.probability);
      expect(body.prediction_bool).toBe(want.probability >= predictor.threshold ? 1 : 0);
      expect(body.prediction_str).toBe(body.prediction_bool === 1 ? ANSWER_RAIN : ANSWER_DRY);
      expect(body.model).toEqual({ name: MODEL, version: 1 });
    }
  });

  it('takes RainToday as 0/1 or No/Yes, and ignores unknown fields', async () => {
    const { post } = makeApp();
    const p = async (body: unknown) => ((await (await post('/predict', body)).json()) as Json).probability as number;
    expect(await p(withFeature({ RainToday: 'No' }))).toBe(await p(EXAMPLE));
    expect(await p(withFeature({ RainToday: 'Yes' }))).toBe(await p(withFeature({ RainToday: 1 })));
    const extra = { ...withFeature({ Colour: 'blue', RainTomorrow: 'Yes' }), other: [1, 2] };
    const res = await post('/predict', extra);
    expect(res.status).toBe(200);
    expect(((await res.json()) as Json).probability).toBe(await p(EXAMPLE));
  });

  const cases: Array<[string, unknown, { loc: Array<string | number>; type: string; msg?: RegExp }]> = [
    [
      'a missing field',
      withFeature({}, ['MinTemp']),
      { loc: ['body', 'features', 'MinTemp'], type: 'missing', msg: /Field required/ },
    ],
    [
      'MinTemp above 50',
      withFeature({ MinTemp: 51 }),
      { loc: ['body', 'features', 'MinTemp'], type: 'less_than_equal', msg: /less than or equal to 50/ },
    ],
    [
      'MaxTemp below -20',
      withFeature({ MaxTemp: -21 }),
      { loc: ['body', 'features', 'MaxTemp'], type: 'greater_than_equal', msg: /-20/ },
    ],
    [
      'Sunshine above 24',
      withFeature({ Sunshine: 25 }),
      { loc: ['body', 'features', 'Sunshine'], type: 'less_than_equal' },
    ],
    [
      'a number as a string',
      withFeature({ MinTemp: '9.8' }),
      { loc: ['body', 'features', 'MinTemp'], type: 'float_type' },
    ],
    [
      'a day that does not exist',
      withFeature({ Date: '2023-02-29' }),
      { loc: ['body', 'features', 'Date'], type: 'value_error', msg: /real calendar day/ },
    ],
    [
      'a misspelt station',
      withFeature({ Location: 'Adelade' }),
      {
        loc: ['body', 'features', 'Location'],
        type: 'value_error',
        msg: /unknown location "Adelade"; closest: Adelaide/,
      },
    ],
    [
      'an unknown wind direction',
      withFeature({ WindGustDir: 'XX' }),
      { loc: ['body', 'features', 'WindGustDir'], type: 'enum', msg: /ESE/ },
    ],
    [
      'RainToday maybe',
      withFeature({ RainToday: 'maybe' }),
      { loc: ['body', 'features', 'RainToday'], type: 'value_error' },
    ],
    [
      'RainToday below 0',
      withFeature({ RainToday: -1 }),
      { loc: ['body', 'features', 'RainToday'], type: 'greater_than_equal' },
    ],
    ['no features', { other: 1 }, { loc: ['body', 'features'], type: 'missing' }],
    ['features not an object', { features: 'sunny' }, { loc: ['body', 'features'], type: 'model_attributes_type' }],
    ['a list as the body', [EXAMPLE], { loc: ['body'], type: 'model_attributes_type' }],
    ['null as the body', 'null', { loc: ['body'], type: 'model_attributes_type' }],
    ['an empty body', '', { loc: ['body'], type: 'missing' }],
    [
      'a number too large for a double',
      JSON.stringify(EXAMPLE).replace('"MinTemp":9.8', '"MinTemp":1e400'),
      { loc: ['body', 'features', 'MinTemp'], type: 'finite_number' },
    ],
    [
      'a deeply nested value',
      JSON.stringify(withFeature({ MinTemp: 0 })).replace(
        '"MinTemp":0',
        `"MinTemp":${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      ),
      { loc: ['body', 'features', 'MinTemp'], type: 'float_type' },
    ],
    [
      'a deeply nested body',
      `${'['.repeat(400_000)}${']'.repeat(400_000)}`,
      { loc: ['body'], type: 'model_attributes_type' },
    ],
  ];
  it.each(cases)('answers 422 in the FastAPI shape for %s', async (_, body, want) => {
    const { post } = makeApp();
    const res = await post('/predict', body);
    expect(res.status).toBe(422);
    const { detail } = (await res.json()) as { detail: Json[] };
    expect(detail.length).toBeGreaterThanOrEqual(1);
    for (const d of detail) {
      expect(
        Object.keys(d)
          .filter((k) => k !== 'ctx')
          .sort(),
      ).toEqual(['loc', 'msg', 'type']);
      expect(typeof d.msg).toBe('string');
    }
    const hit = detail.find((d) => JSON.stringify(d.loc) === JSON.stringify(want.loc));
    expect(hit, JSON.stringify(detail)).toBeDefined();
    expect(hit!.type).toBe(want.type);
    if (want.msg) expect(hit!.msg).toMatch(want.msg);
  });

  it('reports every invalid field at once, with bounds in ctx, and keeps messages short', async () => {
    const { post } = makeApp();
    const res = await post(
      '/predict',
      withFeature({ MinTemp: 99, Humidity3pm: 101, Location: 'x'.repeat(100_000) }, ['Temp3pm']),
    );
    const { detail } = (await res.json()) as { detail: Json[] };
    expect(detail.map((d) => d.loc.at(-1)).sort()).toEqual(['Humidity3pm', 'Location', 'MinTemp', 'Temp3pm']);
    expect(detail.find((d) => d.loc.at(-1) === 'MinTemp')!.ctx).toEqual({ le: 50 });
    expect(detail.find((d) => d.loc.at(-1) === 'Location')!.msg.length).toBeLessThan(400);
  });

  it('answers 400 for a body that is not JSON, naming the position', async () => {
    const { post } = makeApp();
    const res = await post('/predict', '{"features": {"MinTemp": 1,}}');
    expect(res.status).toBe(400);
    const { detail } = (await res.json()) as { detail: Json[] };
    expect(detail[0]).toMatchObject({ loc: ['body', 27], type: 'json_invalid' });
    expect((await post('/predict', '{"features": ')).status).toBe(400);
  });

  it('answers 415 for another content type, and reads a body without one as JSON', async () => {
    const { app, post } = makeApp();
    const res = await post('/predict', JSON.stringify(EXAMPLE), {
      'Content-Type': 'application/x-www-form-urlencoded',
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as Json).detail).toMatch(/application\/json/);
    expect((await post('/predict', JSON.stringify(EXAMPLE), { 'Content-Type': 'text/plain' })).status).toBe(415);
    // A string body would get text/plain from fetch: bytes go without any Content-Type.
    const bare = await app.request('/predict', {
      method: 'POST',
      body: new TextEncoder().encode(JSON.stringify(EXAMPLE)),
    });
    expect(bare.status).toBe(200);
    expect(
      (await post('/predict', JSON.stringify(EXAMPLE), { 'Content-Type': 'application/json; charset=utf-8' })).status,
    ).toBe(200);
  });

  it('answers 413 past 1 MiB (by Content-Length or by counting)', async () => {
    const { post } = makeApp();
    const big = JSON.stringify({ ...EXAMPLE, pad: 'x'.repeat(1024 * 1024) });
    expect((await post('/predict', big)).status).toBe(413);
    const res = await post('/predict', big, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(big)),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as Json).detail).toMatch(/at most 1048576 bytes/);
    // Just under the limit is fine.
    const under = JSON.stringify({ ...EXAMPLE, pad: 'x'.repeat(1024 * 1024 - 1000) });
    expect((await post('/predict', under)).status).toBe(200);
  });

  it('answers 405 to other methods and 404 elsewhere, FastAPI-style', async () => {
    const { app } = makeApp();
    const res = await app.request('/predict');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    const nf = await app.request('/nowhere');
    expect(nf.status).toBe(404);
    expect(await nf.json()).toEqual({ detail: 'Not Found' });
  });

  it('answers 500 without a stack when scoring throws, and logs why', async () => {
    const broken = {
      ...holder.current()!,
      predictor: {
        ...predictor,
        predict: () => {
          throw new Error('boom in the scorer');
        },
      },
    } as LoadedModel;
    const { post, logger } = makeApp({ holder: { ...holder, current: () => broken } });
    const res = await post('/predict', EXAMPLE);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ detail: 'Internal Server Error' });
    expect(logger.lines.join('\n')).toContain('boom in the scorer');
  });
});

describe('POST /predict/batch', () => {
  it('scores the valid rows and gives each invalid row its own error with its index', async () => {
    const { post } = makeApp();
    const rows = [
      EXAMPLE.features,
      { ...EXAMPLE.features, MinTemp: 99 },
      { ...EXAMPLE.features, RainToday: 'Yes', Location: 'Perth' },
    ];
    const res = await post('/predict/batch', { features: rows });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    expect(body).toMatchObject({ model: { name: MODEL, version: 1 }, count: 3, valid: 2, invalid: 1 });
    expect(body.predictions.map((p: Json) => p.index)).toEqual([0, 1, 2]);
    const single = (await (await post('/predict', EXAMPLE)).json()) as Json;
    expect(body.predictions[0]).toEqual({
      index: 0,
      prediction_bool: single.prediction_bool,
      prediction_str: single.prediction_str,
      probability: single.probability,
    });
    expect(body.predictions[1].detail).toEqual([
      expect.objectContaining({ loc: ['body', 'features', 1, 'MinTemp'], type: 'less_than_equal' }),
    ]);
    const perth = (await (await post('/predict', { features: rows[2] })).json()) as Json;
    expect(body.predictions[2].probability).toBe(perth.probability);
  });

  it('accepts a bare array, refuses other shapes and more than 10,000 rows', async () => {
    const { post } = makeApp();
    const bare = (await (await post('/predict/batch', [EXAMPLE.features, { nope: 1 }])).json()) as Json;
    expect(bare).toMatchObject({ count: 2, valid: 1, invalid: 1 });
    expect(bare.predictions[1].detail[0].loc).toEqual(['body', 1, 'Date']);
    const notList = await post('/predict/batch', { features: EXAMPLE.features });
    expect(notList.status).toBe(422);
    expect(((await notList.json()) as Json).detail[0]).toMatchObject({ loc: ['body', 'features'], type: 'list_type' });
    const tooMany = await post('/predict/batch', { features: new Array(10_001).fill(EXAMPLE.features) });
    expect(tooMany.status).toBe(422);
    expect(((await tooMany.json()) as Json).detail[0].type).toBe('too_long');
  });

  it('details the first 100 invalid rows only, so that an all-invalid batch gets a small answer', async () => {
    const { post } = makeApp();
    const bad = Object.fromEntries(Object.keys(EXAMPLE.features).map((k) => [k, 'x'.repeat(8)]));
    const rows = [EXAMPLE.features, ...new Array(9_999).fill(bad)];
    const sent = JSON.stringify({ features: rows });
    const res = await post('/predict/batch', sent);
    expect(res.status).toBe(200);
    const text = await res.text();
    const body = JSON.parse(text) as Json;
    expect(body).toMatchObject({ count: 10_000, valid: 1, invalid: 9_999, details_omitted: 9_899 });
    expect(body.predictions).toHaveLength(10_000);
    expect(body.predictions[0].prediction_bool).toBeTypeOf('number');
    // Rows 1-100 are the first 100 invalid ones: every field named; past them, the index alone.
    expect(body.predictions[100].detail).toHaveLength(Object.keys(EXAMPLE.features).length);
    expect(body.predictions[100].detail[0].loc).toEqual(['body', 'features', 100, 'Date']);
    expect(body.predictions[101]).toEqual({ index: 101, detail: [] });
    expect(body.predictions[9_999]).toEqual({ index: 9_999, detail: [] });
    // Without the bound this answer was several times the request; now a fraction of it.
    expect(text.length).toBeLessThan(sent.length / 4);
  });

  it('answers a large body parsed a run of rows at a time exactly as the same body parsed whole', async () => {
    const core = createPredictCore({ holder, metrics: createMetrics(), logger: memoryLogger() });
    const loaded = holder.current()!;
    const rows = Array.from({ length: 3000 }, (_, i) =>
      i % 5 === 0
        ? { ...EXAMPLE.features, MinTemp: 'x', Location: i % 2 ? 'Atlantis' : 'Perth' }
        : { ...EXAMPLE.features, Humidity3pm: i % 100, Location: i % 3 ? 'Adelaide' : 'Perth' },
    );
    for (const body of [{ features: rows }, rows]) {
      const text = JSON.stringify(body, null, 1);
      expect(text.length).toBeGreaterThan(1024 * 1024);
      expect(await core.predictBatchText(loaded, text)).toEqual(await core.predictBatch(loaded, JSON.parse(text)));
    }
    // Not JSON, cut or not: the same 400 as a whole parse gives.
    const broken = `${JSON.stringify({ features: rows }).slice(0, -3)}x]}`;
    const err = await core.predictBatchText(loaded, broken).catch((e: unknown) => e);
    expect(err).toMatchObject({
      status: 400,
      body: { detail: [{ type: 'json_invalid', loc: ['body', expect.any(Number)] }] },
    });
  });

  it('lets the event loop run while it checks and scores a large batch', async () => {
    const { post } = makeApp();
    const bad = { ...EXAMPLE.features, Location: 'Atlantis', MinTemp: 'cold' };
    let turns = 0;
    let answered = false;
    const tick = () => {
      turns++;
      if (!answered) setImmediate(tick);
    };
    const pending = Promise.resolve(post('/predict/batch', { features: new Array(10_000).fill(bad) })).then((r) => {
      answered = true;
      return r.status;
    });
    setImmediate(tick);
    expect(await pending).toBe(200);
    // A batch that held the loop from start to end would let the ticker run once or twice; slices are 10 ms of work,
    // and this batch is several of them however fast the machine (about 90 ms on a quiet 2-core one).
    expect(turns).toBeGreaterThan(3);
  });

  it('scores 10,000 rows in one request (past the 1 MiB of a single prediction)', async () => {
    const { post, metrics } = makeApp();
    const res = await post('/predict/batch', { features: new Array(10_000).fill(EXAMPLE.features) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    expect(body.valid).toBe(10_000);
    expect(new Set(body.predictions.map((p: Json) => p.probability))).toEqual(
      new Set([predictor.predict(featuresToInput(PredictFeaturesSchema.parse(EXAMPLE.features))).probability]),
    );
    const text = await metrics.render();
    expect(
      seriesValue(text, 'rainops_predictions_total{class="1"}') +
        seriesValue(text, 'rainops_predictions_total{class="0"}'),
    ).toBe(10_000);
  });
});

describe('service routes', () => {
  it('GET / welcomes, /health is ok, /ready and /model describe the loaded version', async () => {
    const { app } = makeApp();
    expect(((await (await app.request('/')).json()) as Json).message).toMatch(/Welcome/);
    expect(await (await app.request('/health')).json()).toEqual({ status: 'ok' });
    expect(await (await app.request('/ready')).json()).toEqual({ status: 'ready', model: MODEL, version: 1 });
    const info = (await (await app.request('/model')).json()) as Json;
    expect(info).toMatchObject({
      name: MODEL,
      version: 1,
      alias: 'prod_best',
      threshold: predictor.threshold,
      engine: 'wasm',
      dataset: predictor.bundle.metadata.datasetId,
    });
    expect(info.metrics.test_f1).toBeGreaterThan(0.3);
    expect(Date.parse(info.loaded_at)).not.toBeNaN();
  });

  it('is not ready (503) before a model is loaded, and predictions wait for it', async () => {
    const { app, post } = makeApp({ holder: { ...holder, current: () => null } });
    const ready = await app.request('/ready');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'loading', version: null });
    expect((await post('/predict', EXAMPLE)).status).toBe(503);
    expect((await app.request('/model')).status).toBe(503);
    expect((await app.request('/health')).status).toBe(200);
  });

  it('is not ready (503, with the reason) while it serves a version other than the alias says', async () => {
    const reason = 'alias prod_best points at v2, which could not be loaded (broken); still serving v1';
    const { app, post } = makeApp({ holder: { ...holder, problem: () => reason } });
    const ready = await app.request('/ready');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'stale', model: MODEL, version: 1, reason });
    // It still answers.
    expect((await post('/predict', EXAMPLE)).status).toBe(200);
  });

  it('GET /openapi.json is generated from the zod schemas and lists every route', async () => {
    const { app } = makeApp({ options: { version: '9.9.9', apiKey: 'k', adminToken: 't' } });
    const res = await app.request('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Json;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe('9.9.9');
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/',
        '/admin/reload',
        '/health',
        '/metrics',
        '/model',
        '/openapi.json',
        '/predict',
        '/predict/',
        '/predict/batch',
        '/ready',
      ]
        .filter((p) => p !== '/openapi.json')
        .sort(),
    );
    const f = doc.components.schemas.Features;
    expect(f.required).toHaveLength(22);
    expect(f.properties.MinTemp).toMatchObject({ type: 'number', minimum: -10, maximum: 50 });
    expect(f.properties.Location.enum).toHaveLength(49);
    expect(f.properties.Date.format).toBe('date');
    expect(doc.paths['/predict'].post.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/PredictRequest',
    });
    expect(doc.paths['/predict'].post.responses['422'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/HTTPValidationError',
    );
    expect(doc.paths['/predict'].post.security).toEqual([{ apiKey: [] }]);
    // Every $ref points at a schema that exists.
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g)!;
    for (const r of refs) expect(doc.components.schemas[r.split('/').at(-1)!], r).toBeDefined();
    // The example validates against the very schema the handler uses.
    expect(PredictFeaturesSchema.safeParse(f.example).success).toBe(true);
    const { app: open } = makeApp();
    const plain = (await (await open.request('/openapi.json')).json()) as Json;
    expect(plain.paths['/admin/reload']).toBeUndefined();
    expect(plain.paths['/predict'].post.security).toBeUndefined();
    expect(plain.components.securitySchemes).toBeUndefined();
  });

  it('GET /docs loads Swagger UI from local assets only', async () => {
    const { app } = makeApp();
    const res = await app.request('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const html = await res.text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    expect(html).not.toMatch(/https?:\/\//);
    for (const ref of refs) {
      expect(ref.startsWith('/docs/assets/'), ref).toBe(true);
      const asset = await app.request(ref);
      expect(asset.status, ref).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, ref).toBeGreaterThan(100);
    }
    const init = await (await app.request('/docs/assets/init.js')).text();
    expect(init).toContain("url: '/openapi.json'");
    expect(init).toContain('validatorUrl: null');
    expect((await app.request('/docs/assets/package.json')).status).toBe(404);
    expect((await app.request('/docs/assets/..%2F..%2Fpackage.json')).status).toBe(404);
  });

  it('GET /metrics counts requests by route and status, latency, predictions by class and the model', async () => {
    const { app, post } = makeApp();
    const value = async (series: string) => {
      const text = await (await app.request('/metrics')).text();
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line ? Number(line.slice(series.length + 1)) : 0;
    };
    const ok = 'rainops_http_requests_total{method="POST",route="/predict",status="200"}';
    const bad = 'rainops_http_requests_total{method="POST",route="/predict",status="422"}';
    await post('/predict', EXAMPLE);
    await post('/predict/', EXAMPLE);
    await post('/predict', {});
    expect(await value(ok)).toBe(2);
    expect(await value(bad)).toBe(1);
    expect(await value('rainops_http_request_duration_seconds_count{route="/predict"}')).toBe(3);
    expect(
      (await value('rainops_predictions_total{class="1"}')) + (await value('rainops_predictions_total{class="0"}')),
    ).toBe(2);
    await post('/predict/batch', [EXAMPLE.features, EXAMPLE.features, EXAMPLE.features]);
    expect(
      (await value('rainops_predictions_total{class="1"}')) + (await value('rainops_predictions_total{class="0"}')),
    ).toBe(5);
    const text = await (await app.request('/metrics')).text();
    expect(text).toContain('# TYPE rainops_http_request_duration_seconds histogram');
    // prom-client writes `le` first; Prometheus does not order labels.
    expect(seriesValue(text, 'rainops_http_request_duration_seconds_bucket{le="+Inf",route="/predict"}')).toBe(3);
    // prom-client's process figures: memory, heap, event-loop delay, and the GC histogram.
    expect(seriesValue(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(seriesValue(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(seriesValue(text, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
    expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram');
    expect((await app.request('/metrics')).headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    // Unknown paths share one label, so a scan cannot blow up the series count.
    await app.request('/a');
    await app.request('/b');
    expect(await value('rainops_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(2);
  });

  it('writes one JSON access-log line per request', async () => {
    const { app, post, log } = makeApp();
    await post('/predict', EXAMPLE);
    await app.request('/x"y');
    expect(log).toHaveLength(2);
    const [a, b] = log.map((l) => JSON.parse(l) as Json);
    expect(a).toMatchObject({ method: 'POST', path: '/predict', status: 200 });
    expect(typeof a!.ms).toBe('number');
    expect(b).toMatchObject({ method: 'GET', path: '/x"y', status: 404 });
    expect(log.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1)).toBe(true);
  });
});

describe('auth', () => {
  it('--api-key guards the prediction routes (401) and nothing else', async () => {
    const { app, post } = makeApp({ options: { apiKey: 's3cret' } });
    const none = await post('/predict', EXAMPLE);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(
      (await post('/predict', EXAMPLE, { 'Content-Type': 'application/json', Authorization: 'Bearer wrong' })).status,
    ).toBe(401);
    expect((await post('/predict/batch', [EXAMPLE.features])).status).toBe(401);
    expect(
      (await post('/predict', EXAMPLE, { 'Content-Type': 'application/json', Authorization: 'Bearer s3cret' })).status,
    ).toBe(200);
    expect((await app.request('/health')).status).toBe(200);
  });

  it('POST /admin/reload exists only with --admin-token, and needs it', async () => {
    const { app: open } = makeApp();
    expect((await open.request('/admin/reload', { method: 'POST' })).status).toBe(404);
    const { app } = makeApp({ options: { adminToken: 'adm' } });
    expect((await app.request('/admin/reload', { method: 'POST' })).status).toBe(401);
    expect(
      (await app.request('/admin/reload', { method: 'POST', headers: { Authorization: 'Bearer nope' } })).status,
    ).toBe(401);
    const ok = await app.request('/admin/reload', { method: 'POST', headers: { Authorization: 'Bearer adm' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'unchanged', version: 1, previous: 1 });
  });
});
