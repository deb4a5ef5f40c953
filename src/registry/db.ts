import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { RainopsError } from '../core/errors.js';

export type Db = Database.Database;

/** SQL function for numeric comparisons of text values (params, tags): the number, or NULL when not numeric. */
export const NUMERIC_FN = 'rainops_num';

function toNumberOrNull(value: unknown): number | null {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value.trim() === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Switches to WAL (a setting kept in the file). SQLite may answer SQLITE_BUSY to this switch without
 * calling the busy handler when another process is creating the same new file, so it is retried.
 */
function enableWal(db: Db): void {
  for (let attempt = 0; ; attempt++) {
    try {
      if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || attempt >= 200) throw err;
      pause(25);
    }
  }
}

/**
 * Creates a missing registry file whole: SQLite leaves a new file empty until its first write, and an
 * empty registry.db must mean damage (see refuseEmpty), so the file is prepared aside and linked into
 * place, which never replaces a file another process created meanwhile.
 */
function createWhole(file: string): void {
  if (fs.existsSync(file)) return;
  const tmp = `${file}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const db = new Database(tmp);
    try {
      enableWal(db);
    } finally {
      db.close();
    }
    fs.linkSync(tmp, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EEXIST: another process created it first. EPERM/ENOTSUP: no hard links here; SQLite creates it.
    if (code !== 'EEXIST' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** A registry file of zero bytes was truncated or never written: opening it would silently start a new registry. */
function refuseEmpty(file: string): void {
  const size = fs.statSync(file, { throwIfNoEntry: false })?.size;
  if (size === 0) {
    throw new RainopsError(
      `registry.db is empty (0 bytes): ${path.resolve(file)} holds no registry, so it was truncated or never finished; restore it from a backup, or remove it to start a new registry`,
    );
  }
}

/** Opens (creating if needed) a SQLite file set up for several processes at once. */
export function openDatabase(file: string): Db {
  if (file !== ':memory:') {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    createWhole(file);
    refuseEmpty(file);
  }
  const db = new Database(file);
  try {
    // busy_timeout first, so that switching to WAL waits for other openers instead of failing
    db.pragma('busy_timeout = 10000');
    enableWal(db);
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    db.function(NUMERIC_FN, { deterministic: true }, toNumberOrNull);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
