import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { RainopsError } from '../errors.js';
import type { XgbEngine } from '../models/engine.js';
import type { Matrix } from '../models/matrix.js';
import { fitFold } from './fit-fold.js';
import type { FoldResult, FoldTask } from './fit-fold.js';
import type { FoldInit, FoldOutcome } from './fold-worker.js';

/** Runs fold fits: in this thread for one job, else on worker threads sharing the data (no copies). */
export interface FoldPool {
  readonly jobs: number;
  /** Rejects when the fit fails or its worker dies; the pool replaces a dead worker and serves the next fold. */
  run(task: FoldTask): Promise<FoldResult>;
  close(): Promise<void>;
}

export interface FoldPoolOptions {
  /** The worker module (default: fold-worker beside this file); it must default-export what fold-worker does. */
  worker?: URL;
}

export async function createFoldPool(
  X: Matrix,
  y: Float32Array,
  engine: XgbEngine,
  jobs: number,
  options: FoldPoolOptions = {},
): Promise<FoldPool> {
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
  const xShared = new SharedArrayBuffer(X.data.byteLength);
  new Float32Array(xShared).set(X.data);
  const yShared = new SharedArrayBuffer(y.byteLength);
  new Float32Array(yShared).set(y);
  const workerData: FoldInit = { x: xShared, y: yShared, rows: X.rows, cols: X.cols, engine: engine.name };
  const pool = new Piscina<FoldTask, FoldOutcome>({
    filename: (options.worker ?? defaultWorker()).href,
    minThreads: jobs,
    maxThreads: jobs,
    // A worker loads its engine once; keep every worker for the whole search.
    idleTimeout: 2 ** 31 - 1,
    // Folds take seconds, so waking a worker through Atomics saves nothing and would block its event loop.
    atomics: 'disabled',
    workerData,
  });
  const guard = stoppedWorkersGuard(pool);
  return {
    jobs,
    run: (task) =>
      guard.race(() =>
        pool.run({ ...task, params: { ...task.params, nthread } }).then(
          (outcome) => {
            if (!outcome.ok) throw new RainopsError(`a fold failed to train: ${outcome.message}`);
            return outcome.result;
          },
          (err: unknown) => {
            const why = err instanceof Error ? err.message : String(err);
            guard.lastCrash = why;
            throw new RainopsError(`a training worker crashed during a fold fit (${why})`);
          },
        ),
      ),
    close: async () => {
      guard.closing = true;
      await pool.destroy();
    },
  };
}

/**
 * The pool replaces a worker that dies during a task, but not one that dies while starting, and then leaves
 * queued tasks waiting forever. When no worker is left, every waiting and later fold fails instead.
 */
function stoppedWorkersGuard(pool: Piscina) {
  const waiting = new Set<(err: Error) => void>();
  let stopped: RainopsError | null = null;
  const guard = {
    closing: false,
    lastCrash: '',
    race<T>(work: () => Promise<T>): Promise<T> {
      if (stopped) return Promise.reject(stopped);
      let reject!: (err: Error) => void;
      const gone = new Promise<never>((_, r) => {
        reject = r;
      });
      waiting.add(reject);
      return Promise.race([work(), gone]).finally(() => waiting.delete(reject));
    },
  };
  // A worker that dies with no task is not one fold's error: remember why, and look at what is left.
  pool.on('error', (err: Error) => (guard.lastCrash = err.message));
  pool.on('workerDestroy', () =>
    // The pool starts a replacement right after it destroys a worker that died during a task.
    setImmediate(() => {
      if (guard.closing || pool.threads.length > 0) return;
      const why = guard.lastCrash ? ` (${guard.lastCrash})` : '';
      stopped = new RainopsError(
        `the training workers stopped while starting${why} and were not restarted; rerun with --jobs 1 to fit in this process`,
      );
      for (const reject of waiting) reject(stopped);
    }),
  );
  return guard;
}

/**
 * The worker beside this module, in this module's language: fold-worker.js once built; fold-worker.ts when this
 * file runs as TypeScript, which then needs a loader in worker threads too (the tests preload one:
 * tests/helpers/worker-tsx.mjs; plain `tsx` does not, so run the built code for parallel folds).
 */
function defaultWorker(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './fold-worker.ts' : './fold-worker.js', import.meta.url);
}
