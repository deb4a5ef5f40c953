import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/server/app.js';
import { createMetrics } from '../../src/core/server/metrics.js';
import { createModelHolder } from '../../src/core/server/model-holder.js';
import type { LoadedModel, ModelHolder } from '../../src/core/server/model-holder.js';
import { nonSnakeKeys } from '../helpers/json-keys.js';
import { memoryLogger, MODEL, modelHome } from './helpers.js';
import type { ModelHome } from './helpers.js';

type Json = Record<string, any>;

let home: ModelHome;
let holder: ModelHolder;

beforeAll(async () => {
  home = await modelHome(1);
  holder = createModelHolder(
    { model: MODEL, alias: 'prod_best', pollMs: 0 },
    { registry: home.registry, store: home.store, logger: memoryLogger() },
  );
  await holder.init();
}, 120_000);
afterAll(() => home?.close());

const getModel = async (h: Pick<ModelHolder, 'current' | 'refresh' | 'model' | 'alias'>) =>
  (await (
    await createApp({
      holder: h,
      metrics: createMetrics(),
      logger: memoryLogger(),
      accessLog: () => undefined,
    }).request('/model')
  ).json()) as Json;

describe('GET /model', () => {
  it('answers with snake_case keys only, hyperparameters under their XGBoost names', async () => {
    const info = await getModel(holder);
    expect(nonSnakeKeys(info)).toEqual([]);
    expect(info).toMatchObject({
      name: MODEL,
      version: 1,
      run_id: expect.any(String),
      created_at: expect.any(String),
      loaded_at: expect.any(String),
    });
    // The search's grid said learningRate/maxDepth/nEstimators; the bundle records and /model shows XGBoost's names.
    expect(info.params).toMatchObject({ max_depth: 3, learning_rate: 0.3 });
    expect(info.params.n_estimators).toBeLessThanOrEqual(15);
    expect(info.metrics.test_f1).toBeGreaterThan(0.3);
  });

  it('shows a bundle written by an earlier version, with camelCase hyperparameters, in snake_case too', async () => {
    const loaded = holder.current()!;
    const old: LoadedModel = {
      ...loaded,
      info: { ...loaded.info, params: { maxDepth: 6, learningRate: 0.1, colsampleBytree: 0.8 } },
    };
    const info = await getModel({ ...holder, current: () => old });
    expect(info.params).toEqual({ max_depth: 6, learning_rate: 0.1, colsample_bytree: 0.8 });
    expect(nonSnakeKeys(info)).toEqual([]);
  });
});
