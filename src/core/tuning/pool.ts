import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { RainopsError } from '../errors.js';
import type { XgbEngine } from '../models/engine.js';
import type { Matrix } from '../models/matrix.js';
import { fitFold } from './fit-fold.js';
import type { FoldResult, FoldTask } from './fit-fold.js';

/** Runs fold fits: in this thread for one job, else on worker threads sharing the data (no copies). */
export interface FoldPool {
  readonly jobs: number;
  run(task: FoldTask): Promise<FoldResult>;
  close(): Promise<void>;
}

export async function createFoldPool(X: Matrix, y: Float32Array, engine: XgbEngine, jobs: number): Promise<FoldPool> {
  if (jobs <= 1) {
    // One fit at a time: fits interleaved on one thread take as long in total and each would report the sum as its time.
    let tail: Promise<unknown> = Promise.resolve();
    const run = (task: FoldTask) => {
      const fit = tail.then(() => fitFold(engine, X, y, task));
      tail = fit.catch(() => undefined);
      return fit;
    };
    return { jobs: 1, run, close: async () => undefined };
  }
  // Parallel fits share the cores rather than each spinning up a thread per core.
  const nthread = Math.max(1, Math.floor(availableParallelism() / jobs));
  const withThreads = (task: FoldTask): FoldTask => ({ ...task, params: { ...task.params, nthread } });
  const xShared = new SharedArrayBuffer(X.data.byteLength);
  new Float32Array(xShared).set(X.data);
  const yShared = new SharedArrayBuffer(y.byteLength);
  new Float32Array(yShared).set(y);
  const script = workerScript();
  const workerData = { x: xShared, y: yShared, rows: X.rows, cols: X.cols, engine: engine.name };

  type Pending = { task: FoldTask; resolve: (r: FoldResult) => void; reject: (e: Error) => void };
  const queue: Pending[] = [];
  const idle: Worker[] = [];
  const busy = new Map<Worker, Pending>();
  const workers: Worker[] = [];
  let failure: Error | null = null;

  const dispatch = () => {
    while (idle.length > 0 && queue.length > 0) {
      const w = idle.pop()!;
      const job = queue.shift()!;
      busy.set(w, job);
      w.postMessage({ id: 0, task: job.task });
    }
  };
  await Promise.all(
    Array.from({ length: jobs }, () => {
      const w = new Worker(script.code, { eval: script.eval, workerData });
      workers.push(w);
      return new Promise<void>((ready, fail) => {
        w.on('message', (msg: { ready?: boolean; result?: FoldResult; error?: { message: string } }) => {
          if (msg.ready) {
            idle.push(w);
            ready();
          } else {
            const job = busy.get(w)!;
            busy.delete(w);
            idle.push(w);
            if (msg.error) job.reject(new RainopsError(`optimize: a fold failed to train: ${msg.error.message}`));
            else job.resolve(msg.result!);
          }
          dispatch();
        });
        w.on('error', (err) => {
          failure = err;
          fail(err);
          busy.get(w)?.reject(new RainopsError(`optimize: a training worker crashed: ${err.message}`));
          for (const job of queue.splice(0)) job.reject(new RainopsError(`optimize: a training worker crashed: ${err.message}`));
        });
      });
    }),
  );
  return {
    jobs,
    run: (task) =>
      new Promise<FoldResult>((resolve, reject) => {
        if (failure) return reject(failure);
        queue.push({ task: withThreads(task), resolve, reject });
        dispatch();
      }),
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/** The built worker next to this file; under the test runner (TypeScript sources) it loads through tsx. */
function workerScript(): { code: string | URL; eval: boolean } {
  const js = new URL('./fold-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { code: js, eval: false };
  const ts = new URL('./fold-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return { code: `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(ts)}); });`, eval: true };
}
