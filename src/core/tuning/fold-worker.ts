import { workerData } from 'node:worker_threads';
import { loadEngine } from '../models/engine.js';
import type { EngineName } from '../models/engine.js';
import { fitFold } from './fit-fold.js';
import type { FoldResult, FoldTask } from './fit-fold.js';

/** What every fold worker gets once: the training matrix and labels in shared memory, and the engine to use. */
export interface FoldInit {
  x: SharedArrayBuffer;
  y: SharedArrayBuffer;
  rows: number;
  cols: number;
  engine: EngineName;
}

/** A fit that fails comes back as a value, so that the pool tells it apart from a worker that died. */
export type FoldOutcome = { ok: true; result: FoldResult } | { ok: false; message: string };

const init = workerData as FoldInit;
const X = { rows: init.rows, cols: init.cols, data: new Float32Array(init.x) };
const y = new Float32Array(init.y);
// Loaded once per worker, on first use (not awaited at the top, so that the module also loads through require).
let engine: ReturnType<typeof loadEngine> | undefined;

/** One fold fit on this worker thread (the pool's task handler). */
export default async function fitFoldTask(task: FoldTask): Promise<FoldOutcome> {
  try {
    engine ??= loadEngine(init.engine);
    return { ok: true, result: await fitFold(await engine, X, y, task) };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}
