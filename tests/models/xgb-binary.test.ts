import { beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError, UsageError } from '../../src/core/errors.js';
import type { TrainedModel } from '../../src/core/models/engine.js';
import { compileEnsemble, truncateEnsemble, validateEnsemble } from '../../src/core/models/trees.js';
import { createWasmEngine } from '../../src/core/models/wasm-engine.js';
import { parseXgbBinary, truncateXgbBinary, xgbBinaryToEnsemble } from '../../src/core/models/xgb-binary.js';
import { maxAbsDiff, WEATHER_FEATURES, weatherRows } from './helpers/weather.js';

const train = weatherRows(2, 10_000, 7);
const test = weatherRows(5, 2_000, 29);

describe('XGBoost binary model layout', () => {
  let model: TrainedModel;
  let bytes: Uint8Array;
  beforeAll(async () => {
    model = await (await createWasmEngine()).train(train.X, train.y, { maxDepth: 4, nEstimators: 12 });
    bytes = model.save();
  });

  it('reads the header, the trees and their stats', () => {
    const m = parseXgbBinary(bytes);
    expect(m).toMatchObject({
      majorVersion: 0,
      numFeature: WEATHER_FEATURES.length,
      objective: 'binary:logistic',
      booster: 'gbtree',
    });
    expect(Object.is(m.baseScore, -0)).toBe(true);
    expect(m.trees).toHaveLength(12);
    expect(m.layout.tail).toBe(bytes.length);
    const te = xgbBinaryToEnsemble(m, WEATHER_FEATURES);
    expect(validateEnsemble(JSON.parse(JSON.stringify(te)))).toEqual(te);
    const tree = te.trees[0]!;
    expect(tree.gain![0]).toBeGreaterThan(0);
    expect(tree.cover![0]).toBeGreaterThan(100);
  });

  it('truncates to the first trees, byte for byte otherwise', async () => {
    const cut = truncateXgbBinary(bytes, 5);
    const m = parseXgbBinary(cut);
    expect(m.trees).toHaveLength(5);
    const full = xgbBinaryToEnsemble(parseXgbBinary(bytes), WEATHER_FEATURES);
    expect(xgbBinaryToEnsemble(m, WEATHER_FEATURES)).toEqual(truncateEnsemble(full, 5));
    const loaded = await (await createWasmEngine()).load(cut);
    const scored = compileEnsemble(truncateEnsemble(full, 5)).predictMatrix(test.X);
    expect(maxAbsDiff(loaded.predict(test.X), scored)).toBeLessThan(1e-6);
    loaded.free();
    expect(truncateXgbBinary(bytes, 12)).toEqual(bytes);
    expect(() => truncateXgbBinary(bytes, 13)).toThrow(UsageError);
  });

  it('rejects truncated, foreign and mismatched input', () => {
    expect(() => parseXgbBinary(bytes.subarray(0, bytes.length - 3))).toThrow(IntegrityError);
    expect(() => parseXgbBinary(bytes.subarray(0, 100))).toThrow(/end inside the learner header/);
    expect(() => parseXgbBinary(new TextEncoder().encode('{"learner": {}}'))).toThrow(/JSON model/);
    const other = bytes.slice();
    other.set(new TextEncoder().encode('reg:squared'), 136 + 8);
    expect(() => parseXgbBinary(other)).toThrow(/objective/);
    expect(() => xgbBinaryToEnsemble(parseXgbBinary(bytes), ['a', 'b'])).toThrow(UsageError);
  });
});
