import { describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { loadEngine } from '../../src/core/models/engine.js';
import type { EngineChoice } from '../../src/core/models/engine.js';

describe('loadEngine', () => {
  it('gives the wasm engine when asked', async () => {
    const e = await loadEngine('wasm');
    expect(e.name).toBe('wasm');
  });

  it('picks native under auto when libxgboost loads, else wasm with a note', async () => {
    const e = await loadEngine('auto');
    const nativeOk = await loadEngine('native').then(
      () => true,
      () => false,
    );
    expect(e.name).toBe(nativeOk ? 'native' : 'wasm');
    if (!nativeOk) expect(e.note).toMatch(/native engine unavailable/);
  });

  it('says to install libxgboost0 when native cannot load', async () => {
    vi.resetModules();
    vi.stubEnv('RAINOPS_LIBXGBOOST', '/nonexistent/libxgboost.so');
    try {
      const fresh = await import('../../src/core/models/engine.js');
      // modules were reset: the error class is the fresh module's
      const errors = await import('../../src/core/errors.js');
      await expect(fresh.loadEngine('native')).rejects.toThrow(errors.RainopsError);
      await expect(fresh.loadEngine('native')).rejects.toThrow(/apt-get install libxgboost0/);
      const auto = await fresh.loadEngine('auto');
      expect(auto.name).toBe('wasm');
      expect(auto.note).toMatch(/libxgboost0/);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('rejects unknown engine names', async () => {
    await expect(loadEngine('gpu' as EngineChoice)).rejects.toThrow(UsageError);
  });
});
