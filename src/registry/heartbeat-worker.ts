import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { HeartbeatWorkerData, LostMessage } from './heartbeat-thread.js';
import { renewHeld } from './leases.js';
import type { Held } from './leases.js';

const { file, leaseMs, heartbeatMs } = workerData as HeartbeatWorkerData;
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

let held: Held = { runs: [], locks: [] };
parentPort!.on('message', (next: Held) => {
  held = next;
});

setInterval(() => {
  if (held.runs.length === 0 && held.locks.length === 0) return;
  try {
    const r = renewHeld(db, prepare, held, new Date(), leaseMs);
    if (r.lostRuns.length > 0 || r.lostTokens.length > 0) {
      const lost: LostMessage = { lostRuns: r.lostRuns, lostTokens: r.lostTokens };
      parentPort!.postMessage(lost);
    }
  } catch {
    // a busy or full database: the next beat tries again, and the lease has room for two missed beats
  }
}, heartbeatMs);
