import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Held, LeasePolicy } from './leases.js';

/** A worker thread renewing leases on its own connection, unaffected by a busy event loop in this thread. */
export interface HeartbeatThread {
  update(held: Held): void;
  stop(): void;
}

/** What the worker reports: runs and lock tokens another process took away. */
export interface LostMessage {
  lostRuns: string[];
  lostTokens: string[];
}

export interface HeartbeatWorkerData {
  file: string;
  leaseMs: number;
  heartbeatMs: number;
}

/** The built worker next to this file; under the test runner (TypeScript sources) it loads through tsx. */
function workerScript(): { code: string | URL; eval: boolean } {
  const js = new URL('./heartbeat-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { code: js, eval: false };
  const ts = new URL('./heartbeat-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return { code: `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(ts)}); });`, eval: true };
}

/** Starts the thread, or returns null when it cannot (the caller then renews from its own thread). */
export function startHeartbeatThread(
  file: string,
  policy: LeasePolicy,
  onLost: (runs: string[], tokens: string[]) => void,
  onFailure: () => void,
): HeartbeatThread | null {
  let worker: Worker;
  try {
    const script = workerScript();
    const workerData: HeartbeatWorkerData = { file, leaseMs: policy.leaseMs, heartbeatMs: policy.heartbeatMs };
    worker = new Worker(script.code, { eval: script.eval, workerData });
  } catch {
    // no worker support or no script: the in-thread timer still renews
    return null;
  }
  // like the timer it replaces, the thread never keeps a finished command alive
  worker.unref();
  let ended = false;
  const failed = () => {
    if (ended) return;
    ended = true;
    onFailure();
  };
  worker.on('message', (m: LostMessage) => onLost(m.lostRuns, m.lostTokens));
  worker.on('error', failed);
  worker.on('exit', failed);
  return {
    update: (held) => {
      if (!ended) worker.postMessage(held);
    },
    stop: () => {
      ended = true;
      void worker.terminate();
    },
  };
}
