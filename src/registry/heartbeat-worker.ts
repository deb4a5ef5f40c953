import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { createPgPool } from './connection.js';
import { CLOSED, OPEN } from './heartbeat-thread.js';
import type { HeartbeatWorkerData, ThreadMessage, WorkerMessage } from './heartbeat-thread.js';
import { renewHeld } from './leases.js';
import type { Held } from './leases.js';
import type { RegistryTables } from './schema.js';

const { location, leaseMs, heartbeatMs, state } = workerData as HeartbeatWorkerData;
const flag = new Int32Array(state);

function open(): { db: Kysely<RegistryTables>; begin: string } {
  if (location.backend === 'postgresql') {
    return {
      db: new Kysely({ dialect: new PostgresDialect({ pool: createPgPool(location.url, 1) }) }),
      begin: 'BEGIN',
    };
  }
  const sqlite = new Database(location.file, { fileMustExist: true });
  sqlite.pragma('busy_timeout = 10000');
  return { db: new Kysely({ dialect: new SqliteDialect({ database: sqlite }) }), begin: 'BEGIN IMMEDIATE' };
}

const { db, begin } = open();
const post = (m: WorkerMessage) => parentPort!.postMessage(m);
let held: Held = { runs: [], locks: [] };
let busy = false;

const timer = setInterval(() => {
  if (busy || (held.runs.length === 0 && held.locks.length === 0)) return;
  busy = true;
  renewHeld(db, begin, held, new Date(), leaseMs)
    .then((r) => {
      if (r.lostRuns.length > 0 || r.lostTokens.length > 0) post({ lostRuns: r.lostRuns, lostTokens: r.lostTokens });
    })
    // a busy, full or unreachable database: the next beat tries again, and the lease has room for two missed beats
    .catch(() => {})
    .finally(() => {
      busy = false;
    });
}, heartbeatMs);

parentPort!.on('message', (m: ThreadMessage) => {
  if ('held' in m) {
    held = m.held;
    return;
  }
  clearInterval(timer);
  void db
    .destroy()
    .catch(() => {})
    .finally(() => {
      Atomics.store(flag, 0, CLOSED);
      Atomics.notify(flag, 0);
      parentPort!.close();
    });
});
Atomics.store(flag, 0, OPEN);
