import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { RainopsError } from '../errors.js';

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

/** What every connection needs, writer or reader. */
function addFunctions(db: Db): void {
  db.function(NUMERIC_FN, { deterministic: true }, toNumberOrNull);
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
    addFunctions(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** Errors of a shared read that a private copy of the file avoids: no room or no permission for the -shm index. */
function sharedReadImpossible(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^SQLITE_(CANTOPEN|IOERR|READONLY|FULL|PERM)/.test(code);
}

/** An in-memory copy of the file as it is now; SQLite's in-memory databases cannot use WAL, so the copy is marked as a rollback-journal one. */
function snapshot(file: string): Db {
  const bytes = fs.readFileSync(file);
  // header bytes 18 and 19 are the read and write format versions: 2 means WAL, 1 rollback journal
  if (bytes.length >= 100 && bytes[18] === 2 && bytes[19] === 2) bytes.fill(1, 18, 20);
  return new Database(bytes, { readonly: true });
}

/**
 * Opens an existing file without ever writing to it or waiting for a writer: a WAL reader needs no lock a
 * writer holds. When even a reader cannot open it (a read-only directory without the -shm file, a full disk),
 * it reads a private copy instead (`snapshot: true`): later changes by other processes are not seen.
 */
export function openReadOnlyDatabase(file: string): { db: Db; snapshot: boolean } {
  let db: Db | null = null;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 10000');
    // the first read maps the WAL index: this is where a read-only directory or a full disk shows up
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    addFunctions(db);
    return { db, snapshot: false };
  } catch (err) {
    db?.close();
    if (!sharedReadImpossible(err)) throw err;
  }
  const copy = snapshot(file);
  addFunctions(copy);
  return { db: copy, snapshot: true };
}
