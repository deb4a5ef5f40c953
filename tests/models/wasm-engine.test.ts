import { beforeAll, describe, expect, it } from 'vitest';
import { RainopsError, UsageError } from '../../src/core/errors.js';
import type { XgbEngine } from '../../src/core/models/engine.js';
import { compileEnsemble, truncateEnsemble } from '../../src/core/models/trees.js';
import { createWasmEngine } from '../../src/core/models/wasm-engine.js';
import { maxAbsDiff, specialValues, WEATHER_FEATURES, weatherRows } from './helpers/weather.js';

const train = weatherRows(0, 20_000, 5);
const test = weatherRows(3, 4_000, 31);
const params = { maxDepth: 5, nEstimators: 40, subsample: 0.8, colsampleBytree: 0.7, seed: 7 };

describe('wasm engine', () => {
  let engine: XgbEngine;
  beforeAll(async () => {
    engine = await createWasmEngine();
  });

  it('names itself', () => {
    expect(engine.name).toBe('wasm');
    expect(engine.libraryVersion).toMatch(/^ml-xgboost \d/);
  });

  it('parsed trees score held-out rows like the engine, missing values and -1 included', async () => {
    const special = specialValues(test.X);
    expect(special.missing).toBeGreaterThan(1000);
    expect(special.minusOne).toBeGreaterThan(0);
    const model = await engine.train(train.X, train.y, params);
    const te = model.toTrees(WEATHER_FEATURES);
    expect(te.trees).toHaveLength(40);
    expect(te.baseMargin).toBe(0);
    expect(maxAbsDiff(compileEnsemble(te).predictMatrix(test.X), model.predict(test.X))).toBeLessThan(1e-6);
    expect(model).toMatchObject({
      engine: 'wasm',
      format: 'xgboost-binary',
      bestIteration: 39,
      nTrees: 40,
      roundsTrained: 40,
    });
    model.free();
  });

  it('gives the same model whether rounds are trained in chunks or in one call', async () => {
    const chunked = await createWasmEngine({ chunkRounds: 7 });
    const oneShot = await createWasmEngine({ chunkRounds: 10_000 });
    const a = await chunked.train(train.X, train.y, params);
    const b = await oneShot.train(train.X, train.y, params);
    expect(Buffer.from(a.save()).equals(Buffer.from(b.save()))).toBe(true);
    expect(maxAbsDiff(a.predict(test.X), b.predict(test.X))).toBe(0);
    a.free();
    b.free();
  });

  it('stops early on an overfitting setting and keeps the best trees', async () => {
    const rounds: number[] = [];
    const model = await engine.train(
      train.X,
      train.y,
      { maxDepth: 12, learningRate: 0.8, minChildWeight: 0, lambda: 0, nEstimators: 200 },
      { eval: test, earlyStoppingRounds: 5, onRound: (r) => rounds.push(r.round) },
    );
    expect(model.bestIteration).toBeLessThan(60);
    expect(model.nTrees).toBe(model.bestIteration + 1);
    expect(rounds).toHaveLength(model.bestIteration + 6);
    expect(model.roundsTrained).toBeGreaterThanOrEqual(rounds.length);
    expect(model.bestScore).toBeGreaterThan(0.2);
    const te = model.toTrees(WEATHER_FEATURES);
    expect(te.trees).toHaveLength(model.nTrees);
    // the truncated bytes, loaded back into wasm, predict what the truncated trees score
    expect(maxAbsDiff(compileEnsemble(te).predictMatrix(test.X), model.predict(test.X))).toBeLessThan(1e-6);
    model.free();
  });

  it('reports the best round like a full run truncated to it', async () => {
    const p = { maxDepth: 4, nEstimators: 30, seed: 1 };
    const scores: number[] = [];
    const full = await engine.train(train.X, train.y, p, {
      eval: test,
      metric: 'auc',
      onRound: (r) => scores.push(r.score ?? Number.NaN),
    });
    expect(full.nTrees).toBe(30);
    const te = full.toTrees(WEATHER_FEATURES);
    const k = 12;
    const { aucFromScores } = await import('../../src/core/models/early-stopping.js');
    const truncatedAuc = aucFromScores(compileEnsemble(truncateEnsemble(te, k + 1)).predictMatrix(test.X), test.y);
    expect(scores[k]).toBeCloseTo(truncatedAuc, 9);
    expect(scores[29]).toBeGreaterThan(0.8);
    full.free();
  });

  it('trains on a matrix past the wrapper’s 6 MB stack limit (60,000 x 27)', async () => {
    const base = weatherRows(0, 60_000, 2);
    const cols = 27;
    const data = new Float32Array(60_000 * cols);
    for (let i = 0; i < 60_000; i++) {
      for (let j = 0; j < cols; j++) data[i * cols + j] = base.X.data[i * base.X.cols + (j % base.X.cols)] as number;
    }
    expect(data.byteLength).toBeGreaterThan(6 * 1024 * 1024);
    const model = await engine.train({ rows: 60_000, cols, data }, base.y, { maxDepth: 3, nEstimators: 3 });
    expect(model.nTrees).toBe(3);
    model.free();
  });

  it('loads its own bytes back', async () => {
    const model = await engine.train(train.X, train.y, { maxDepth: 3, nEstimators: 10 });
    const again = await engine.load(model.save());
    expect(again.nTrees).toBe(10);
    expect(maxAbsDiff(again.predict(test.X), model.predict(test.X))).toBe(0);
    model.free();
    again.free();
    again.free();
    expect(() => again.predict(test.X)).toThrow(RainopsError);
  });

  it('runs concurrent trainings one at a time, so seeds still reproduce', async () => {
    const p = { maxDepth: 3, nEstimators: 30, subsample: 0.6, seed: 5 };
    const alone = await engine.train(train.X, train.y, p);
    const other = await createWasmEngine({ chunkRounds: 3 });
    const [a, b] = await Promise.all([
      other.train(train.X, train.y, p),
      engine.train(train.X, train.y, { ...p, seed: 9 }),
    ]);
    expect(Buffer.from(a.save()).equals(Buffer.from(alone.save()))).toBe(true);
    for (const m of [alone, a, b]) m.free();
  });

  it('leaves no process-wide handler behind', () => {
    expect(process.listeners('uncaughtException').some((l) => String(l).includes('ExitStatus'))).toBe(false);
  });

  it('validates before calling into wasm', async () => {
    await expect(engine.train(train.X, train.y, { maxDepth: -1 })).rejects.toThrow(UsageError);
    const y = train.y.slice();
    y[3] = 2;
    await expect(engine.train(train.X, y, {})).rejects.toThrow(/labels must be 0 or 1/);
    await expect(engine.train(train.X, train.y.subarray(1), {})).rejects.toThrow(/labels/);
    await expect(engine.train(train.X, train.y, {}, { earlyStoppingRounds: 5 })).rejects.toThrow(/eval set/);
    await expect(engine.load(new Uint8Array(50).fill(7))).rejects.toThrow(/XGBoost binary model/);
    // the engine still works afterwards
    const model = await engine.train(train.X, train.y, { maxDepth: 2, nEstimators: 2 });
    expect(model.predict(test.X)).toHaveLength(test.X.rows);
    model.free();
  });
});
