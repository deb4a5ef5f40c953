import { parentPort, workerData } from 'node:worker_threads';
import { loadEngine } from '../models/engine.js';
import type { EngineName } from '../models/engine.js';
import { fitFold } from './fit-fold.js';
import type { FoldTask } from './fit-fold.js';

interface WorkerInit {
  x: SharedArrayBuffer;
  y: SharedArrayBuffer;
  rows: number;
  cols: number;
  engine: EngineName;
}

const init = workerData as WorkerInit;
const X = { rows: init.rows, cols: init.cols, data: new Float32Array(init.x) };
const y = new Float32Array(init.y);
const engine = await loadEngine(init.engine);

parentPort!.on('message', (msg: { id: number; task: FoldTask }) => {
  fitFold(engine, X, y, msg.task).then(
    (result) => parentPort!.postMessage({ id: msg.id, result }, [result.predictions.buffer as ArrayBuffer]),
    (err: unknown) => parentPort!.postMessage({ id: msg.id, error: { name: (err as Error).name, message: (err as Error).message ?? String(err) } }),
  );
});
parentPort!.postMessage({ ready: true });
