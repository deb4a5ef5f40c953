import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requireMlXgboostGlue } from '../../src/core/models/ml-xgboost-shim.js';

const require = createRequire(import.meta.url);
const GLUE = require.resolve('ml-xgboost/dist/wasm/xgboost.js');
const wasm = (globalThis as unknown as { WebAssembly: Record<string, unknown> }).WebAssembly;
const original = Object.getOwnPropertyDescriptor(wasm, 'instantiateStreaming');

/** Loads the glue afresh (Node caches a CommonJS module per process). */
const fresh = <T>(load: () => T): T => {
  delete require.cache[GLUE];
  return load();
};

afterEach(() => {
  if (original) Object.defineProperty(wasm, 'instantiateStreaming', original);
  for (const l of process.listeners('uncaughtException'))
    if (String(l).includes('ExitStatus')) process.off('uncaughtException', l);
});

describe('requireMlXgboostGlue', () => {
  it('is needed: the bare glue leaves an uncaughtException listener behind and calls instantiateStreaming', async () => {
    // The glue hands over fetch(a file path), which rejects on Node; it then reads the file instead.
    const streaming = vi.fn((source: Promise<unknown>) => {
      source.catch(() => undefined);
      return Promise.reject(new Error('no streaming here'));
    });
    Object.defineProperty(wasm, 'instantiateStreaming', { value: streaming, configurable: true, writable: true });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const before = process.listeners('uncaughtException').length;
    const mod = fresh(() => require(GLUE) as { isReady: Promise<unknown> });
    expect(process.listeners('uncaughtException')).toHaveLength(before + 1);
    expect(streaming).toHaveBeenCalled();
    await mod.isReady;
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/wasm streaming compile failed/));
    warn.mockRestore();
  });

  it('leaves WebAssembly.instantiateStreaming and the uncaughtException listeners as they were', async () => {
    const streaming = vi.fn();
    Object.defineProperty(wasm, 'instantiateStreaming', {
      value: streaming,
      configurable: true,
      writable: true,
      enumerable: false,
    });
    const mine = () => undefined;
    process.on('uncaughtException', mine);
    try {
      const before = process.listeners('uncaughtException');
      const mod = fresh(() => requireMlXgboostGlue()) as { isReady: Promise<unknown>; _malloc: unknown };
      await mod.isReady;
      expect(typeof mod._malloc).toBe('function');
      expect(process.listeners('uncaughtException')).toEqual(before);
      expect(Object.getOwnPropertyDescriptor(wasm, 'instantiateStreaming')).toEqual({
        value: streaming,
        configurable: true,
        writable: true,
        enumerable: false,
      });
      expect(streaming).not.toHaveBeenCalled();
    } finally {
      process.off('uncaughtException', mine);
    }
  });

  it('puts everything back when the glue fails to load', () => {
    const before = process.listeners('uncaughtException');
    const descriptor = Object.getOwnPropertyDescriptor(wasm, 'instantiateStreaming');
    expect(() => requireMlXgboostGlue(require.resolve('./helpers/failing-glue.cjs'))).toThrow(
      'the glue failed to load',
    );
    expect(process.listeners('uncaughtException')).toEqual(before);
    expect(Object.getOwnPropertyDescriptor(wasm, 'instantiateStreaming')).toEqual(descriptor);
  });
});
