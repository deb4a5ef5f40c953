import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { CLOSED, OPEN } from './heartbeat-thread.js';
import type { HeartbeatWorkerData, ThreadMessage, WorkerMessage } from './heartbeat-thread.js';
import { renewHeld } from './leases.js';
import type { Held } from './leases.js';

const { file, leaseMs, heartbeatMs, state } = workerData as HeartbeatWorkerData;
const flag = new Int32Array(state);
const db = new Database(file, { fileMustExist: true });
db.pragma('busy_timeout = 10000');
const statements = new Map<string, Database.Statement>();
const prepare = (sql: string) => {
  let s = statements.get(sql);
  if (!s) {
    s = db.prepare(sql);
    statements.set(sql, s);
  }
  return s;
};

const post = (m: WorkerMessage) => parentPort!.postMessage(m);
let held: Held = { runs: [], locks: [] };

const timer = setInterval(() => {
  if (held.runs.length === 0 && held.locks.length === 0) return;
  try {
    const r = renewHeld(db, prepare, held, new Date(), leaseMs);
    if (r.lostRuns.length > 0 || r.lostTokens.length > 0) post({ lostRuns: r.lostRuns, lostTokens: r.lostTokens });
  } catch {
    // a busy or full database: the next beat tries again, and the lease has room for two missed beats
  }
}, heartbeatMs);

parentPort!.on('message', (m: ThreadMessage) => {
  if ('held' in m) {
    held = m.held;
    return;
  }
  clearInterval(timer);
  db.close();
  Atomics.store(flag, 0, CLOSED);
  Atomics.notify(flag, 0);
  parentPort!.close();
});
Atomics.store(flag, 0, OPEN);
