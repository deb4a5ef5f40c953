import { afterEach, describe, expect, it } from 'vitest';
import type { FeatureInput } from '../../src/core/dataset/schema.js';
import { featuresToInput } from '../../src/core/dataset/schema.js';
import { RainopsError, UsageError } from '../../src/core/errors.js';
import { remoteScorer } from '../../src/core/predict/remote.js';
import { closedPort, fakeServer } from './fake-server.js';
import type { FakeServer } from './fake-server.js';
import { EXAMPLE_FEATURES } from './fixtures.js';

let server: FakeServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const ROW: FeatureInput = featuresToInput(EXAMPLE_FEATURES);

describe('remoteScorer', () => {
  it('asks POST /predict for one row and returns the answer with the model', async () => {
    server = await fakeServer();
    const r = await remoteScorer(`${server.url}/`).predict(EXAMPLE_FEATURES);
    expect(r).toEqual({
      prediction_bool: 1,
      prediction_str: 'Toma un paraguas. Mañana puede que llueva.',
      probability: 0.95,
      model: { name: 'Rain_dataset_model_prod', version: 4 },
    });
  });

  it('turns a 422 into a usage error naming the field', async () => {
    server = await fakeServer();
    const err = await remoteScorer(server.url)
      .predict({ ...EXAMPLE_FEATURES, Sunshine: 30 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(
      'predict: invalid features (the server says): ✖ Too big: expected number to be <=24 → at Sunshine',
    );
  });

  it('sends batches to /predict/batch, refusing rows with missing values before sending', async () => {
    server = await fakeServer();
    const rows = [ROW, { ...ROW, Humidity3pm: 10 }, { ...ROW, Sunshine: null }];
    const r = await remoteScorer(server.url).scoreRows(rows);
    expect(r.model).toEqual({ name: 'Rain_dataset_model_prod', version: 4 });
    expect(r.answers.map((a) => ('reason' in a ? a.reason : a.prediction_bool))).toEqual([
      1,
      0,
      'Sunshine: missing; the server needs every field (drop --url to score locally, which imputes it)',
    ]);
    expect(server.requests).toEqual([{ path: '/predict/batch', rows: 2 }]);
  });

  it('falls back to one POST /predict per row on a server without /predict/batch', async () => {
    server = await fakeServer({ batch: false });
    const scorer = remoteScorer(server.url, { concurrency: 2 });
    const rows = Array.from({ length: 5 }, (_, i) => ({ ...ROW, Humidity3pm: i * 20 }));
    const r = await scorer.scoreRows(rows);
    expect(r.answers.map((a) => ('reason' in a ? a.reason : a.probability))).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(r.model?.version).toBe(4);
    await scorer.scoreRows(rows.slice(0, 1));
    // The missing batch route is remembered: one 404, then rows only.
    expect(server.requests.map((q) => q.path)).toEqual(['/predict/batch (404)', ...Array(6).fill('/predict')]);
  });

  it('sends the API key, and explains a 401', async () => {
    server = await fakeServer({ apiKey: 's3cret' });
    expect((await remoteScorer(server.url, { apiKey: 's3cret' }).predict(EXAMPLE_FEATURES)).prediction_bool).toBe(1);
    await expect(remoteScorer(server.url).predict(EXAMPLE_FEATURES)).rejects.toThrow(
      /wants an API key; pass --api-key or set RAINOPS_API_KEY/,
    );
  });

  it('explains a server that cannot be reached', async () => {
    const port = await closedPort();
    const err = await remoteScorer(`http://127.0.0.1:${port}`)
      .predict(EXAMPLE_FEATURES)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RainopsError);
    expect((err as RainopsError).exitCode).toBe(1);
    expect((err as Error).message).toBe(
      `predict: cannot reach rainops serve at http://127.0.0.1:${port} (ECONNREFUSED); start it with 'rainops serve' or check --url`,
    );
  });
});
