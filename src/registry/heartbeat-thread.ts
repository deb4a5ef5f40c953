import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Held, LeasePolicy } from './leases.js';
import type { RegistryLocation } from './url.js';

/**
 * A worker thread renewing leases on its own connection (a SQLite handle, or one PostgreSQL connection),
 * unaffected by a busy event loop in this thread: training holds it for longer than a lease.
 */
export interface HeartbeatThread {
  update(held: Held): void;
  stop(): void;
}

/** What the worker reports: runs and lock tokens another process took away. */
export interface WorkerMessage {
  lostRuns: string[];
  lostTokens: string[];
}

/** What the worker is told: what is held now, or to close its connection and end. */
export type ThreadMessage = { held: Held } | { stop: true };

export interface HeartbeatWorkerData {
  /** The registry; a PostgreSQL URL keeps its credentials here, in memory, to open the thread's own connection. */
  location: RegistryLocation;
  leaseMs: number;
  heartbeatMs: number;
  /** One Int32 the worker sets to OPEN once its connection is open and to CLOSED once it is closed again. */
  state: SharedArrayBuffer;
}

export const OPEN = 1;
export const CLOSED = 2;

/** The built worker next to this file; under the test runner (TypeScript sources) it loads through tsx. */
function workerScript(): { code: string | URL; eval: boolean } {
  const js = new URL('./heartbeat-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { code: js, eval: false };
  const ts = new URL('./heartbeat-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return {
    code: `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(ts)}); });`,
    eval: true,
  };
}

/** Starts the thread, or returns null when it cannot (the caller then renews from its own thread). */
export function startHeartbeatThread(
  location: RegistryLocation,
  policy: LeasePolicy,
  onLost: (runs: string[], tokens: string[]) => void,
  onFailure: () => void,
): HeartbeatThread | null {
  let worker: Worker;
  const state = new SharedArrayBuffer(4);
  try {
    const script = workerScript();
    const workerData: HeartbeatWorkerData = {
      location,
      leaseMs: policy.leaseMs,
      heartbeatMs: policy.heartbeatMs,
      state,
    };
    worker = new Worker(script.code, { eval: script.eval, workerData });
  } catch {
    // no worker support or no script: the in-thread timer still renews
    return null;
  }
  let ended = false;
  const failed = () => {
    if (ended) return;
    ended = true;
    onFailure();
  };
  worker.on('message', (m: WorkerMessage) => onLost(m.lostRuns, m.lostTokens));
  worker.on('error', failed);
  worker.on('exit', failed);
  // like the timer it replaces, the thread never keeps a finished command alive (unref after the listeners,
  // which would otherwise hold the worker's message port)
  worker.unref();
  const post = (m: ThreadMessage) => worker.postMessage(m);
  return {
    update: (held) => {
      if (!ended) post({ held });
    },
    stop: () => {
      if (ended) return;
      ended = true;
      const flag = new Int32Array(state);
      if (Atomics.load(flag, 0) === OPEN) {
        post({ stop: true });
        // closed before the caller closes its own connection, so that one is the last and folds the WAL into the file
        Atomics.wait(flag, 0, OPEN, 2_000);
      }
      void worker.terminate();
    },
  };
}
