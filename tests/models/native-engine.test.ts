import { beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError, RainopsError } from '../../src/core/errors.js';
import type { XgbEngine } from '../../src/core/models/engine.js';
import { createNativeEngine } from '../../src/core/models/native-engine.js';
import { compileEnsemble } from '../../src/core/models/trees.js';
import { createWasmEngine } from '../../src/core/models/wasm-engine.js';
import { maxAbsDiff, WEATHER_FEATURES, weatherRows } from './helpers/weather.js';

// skipped only when libxgboost cannot be loaded here (Debian: apt-get install libxgboost0)
const nativeError = await createNativeEngine().then(
  () => null,
  (err: unknown) => String(err),
);
if (nativeError) console.warn(`native engine tests skipped: ${nativeError}`);

const train = weatherRows(1, 20_000, 5);
const test = weatherRows(4, 4_000, 31);

describe.skipIf(nativeError !== null)('native engine (libxgboost)', () => {
  let engine: XgbEngine;
  beforeAll(async () => {
    engine = await createNativeEngine();
  });

  it('names itself', () => {
    expect(engine.name).toBe('native');
    expect(engine.libraryVersion).toMatch(/^libxgboost \d+\.\d+\.\d+$/);
  });

  it('parsed trees score held-out rows like the library', async () => {
    const model = await engine.train(train.X, train.y, {
      maxDepth: 6,
      nEstimators: 50,
      subsample: 0.8,
      colsampleBytree: 0.7,
      seed: 3,
    });
    const te = model.toTrees(WEATHER_FEATURES);
    expect(te.trees).toHaveLength(50);
    expect(maxAbsDiff(compileEnsemble(te).predictMatrix(test.X), model.predict(test.X))).toBeLessThan(1e-6);
    expect(model).toMatchObject({ engine: 'native', format: 'xgboost-json', bestIteration: 49, nTrees: 50 });
    // a matrix that is a view into a larger buffer is read from its own offset
    const cols = test.X.cols;
    const view = { rows: 100, cols, data: test.X.data.subarray(cols * 10, cols * 110) };
    expect(maxAbsDiff(model.predict(view), model.predict(test.X).subarray(10, 110))).toBe(0);
    model.free();
  });

  it('is deterministic for a seed', async () => {
    const p = { maxDepth: 4, nEstimators: 20, subsample: 0.7, seed: 11 };
    const a = await engine.train(train.X, train.y, p);
    const b = await engine.train(train.X, train.y, p);
    expect(maxAbsDiff(a.predict(test.X), b.predict(test.X))).toBe(0);
    a.free();
    b.free();
  });

  it('stops early per round and keeps the best trees', async () => {
    const scores: number[] = [];
    const model = await engine.train(
      train.X,
      train.y,
      { maxDepth: 12, learningRate: 0.8, minChildWeight: 0, lambda: 0, nEstimators: 200 },
      { eval: test, earlyStoppingRounds: 5, onRound: (r) => scores.push(r.score ?? Number.NaN) },
    );
    expect(model.bestIteration).toBeLessThan(60);
    expect(model.roundsTrained).toBe(model.bestIteration + 6);
    expect(model.nTrees).toBe(model.bestIteration + 1);
    expect(model.bestScore).toBe(Math.min(...scores));
    const te = model.toTrees(WEATHER_FEATURES);
    expect(te.trees).toHaveLength(model.nTrees);
    expect(maxAbsDiff(compileEnsemble(te).predictMatrix(test.X), model.predict(test.X))).toBeLessThan(1e-6);
    model.free();
  });

  it('loads bytes saved by the wasm engine and predicts identically', async () => {
    const wasm = await createWasmEngine();
    const w = await wasm.train(train.X, train.y, { maxDepth: 5, nEstimators: 30 });
    const n = await engine.load(w.save());
    expect(n.nTrees).toBe(30);
    expect(maxAbsDiff(n.predict(test.X), w.predict(test.X))).toBeLessThan(1e-6);
    expect(n.toTrees(WEATHER_FEATURES)).toEqual(w.toTrees(WEATHER_FEATURES));
    w.free();
    n.free();
  });

  it('saves JSON that it loads back', async () => {
    const model = await engine.train(train.X, train.y, { maxDepth: 3, nEstimators: 10 });
    const bytes = model.save();
    expect(new TextDecoder().decode(bytes.subarray(0, 10))).toMatch(/^\{"learner"/);
    const again = await engine.load(bytes);
    expect(maxAbsDiff(again.predict(test.X), model.predict(test.X))).toBe(0);
    await expect((await createWasmEngine()).load(bytes)).rejects.toThrow(/XGBoost JSON/);
    model.free();
    again.free();
    expect(() => again.predict(test.X)).toThrow(RainopsError);
  });

  it('rejects bytes that are not a model', async () => {
    await expect(engine.load(new TextEncoder().encode('not a model'))).rejects.toThrow(IntegrityError);
  });
});
