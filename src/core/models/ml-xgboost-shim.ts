import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The glue's Node entry (an Emscripten build of XGBoost; CommonJS). */
const GLUE = 'ml-xgboost/dist/wasm/xgboost.js';

/**
 * Loads ml-xgboost's Emscripten glue: the one place in core that touches process-wide state, for the duration of
 * one require(), and puts back all it touched, whether the require succeeds or throws. While it loads, the glue
 * - calls WebAssembly.instantiateStreaming(fetch(a file path)) when that function exists; on Node the fetch fails
 *   and the glue logs a warning before it falls back to reading the file, so the function is hidden meanwhile;
 * - adds a process 'uncaughtException' listener that rethrows every uncaught exception (the CLI handles its own),
 *   which is removed again. Listeners that were there before are left alone.
 * `id` is the module to load (tests give a stand-in that fails).
 */
export function requireMlXgboostGlue(id: string = GLUE): unknown {
  const wasm = (globalThis as unknown as { WebAssembly: Record<string, unknown> }).WebAssembly;
  const streaming = Object.getOwnPropertyDescriptor(wasm, 'instantiateStreaming');
  const listeners = new Set(process.listeners('uncaughtException'));
  try {
    Object.defineProperty(wasm, 'instantiateStreaming', { value: undefined, configurable: true, writable: true });
    return require(id);
  } finally {
    if (streaming) Object.defineProperty(wasm, 'instantiateStreaming', streaming);
    else delete wasm['instantiateStreaming'];
    for (const l of process.listeners('uncaughtException')) if (!listeners.has(l)) process.off('uncaughtException', l);
  }
}
