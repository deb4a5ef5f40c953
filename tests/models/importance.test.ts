import { describe, expect, it } from 'vitest';
import { featureImportance } from '../../src/core/models/importance.js';
import { createWasmEngine } from '../../src/core/models/wasm-engine.js';
import { WEATHER_FEATURES, weatherRows } from './helpers/weather.js';

describe('featureImportance', () => {
  it('counts splits, total and mean gain and cover per feature', async () => {
    const { X, y } = weatherRows(0, 10_000, 9);
    const model = await (await createWasmEngine()).train(X, y, { maxDepth: 4, nEstimators: 20 });
    const te = model.toTrees(WEATHER_FEATURES);
    model.free();
    const imp = featureImportance(te);
    expect(imp.map((r) => r.feature)).toEqual(WEATHER_FEATURES);
    let splits = 0;
    let gain = 0;
    for (const t of te.trees) {
      t.left.forEach((l, i) => {
        if (l !== -1) {
          splits++;
          gain += t.gain![i]!;
        }
      });
    }
    expect(imp.reduce((s, r) => s + r.weight, 0)).toBe(splits);
    expect(imp.reduce((s, r) => s + r.totalGain, 0)).toBeCloseTo(gain, 3);
    for (const r of imp) {
      expect(r.gain).toBeCloseTo(r.weight > 0 ? r.totalGain / r.weight : 0, 9);
      expect(r.cover).toBeGreaterThanOrEqual(0);
    }
    // afternoon humidity is by far the strongest predictor of rain tomorrow
    const top = [...imp].sort((a, b) => b.totalGain - a.totalGain)[0];
    expect(top?.feature).toBe('Humidity3pm');
  });
});
