import fs from 'node:fs';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { ConflictError, RainopsError } from '../errors.js';
import { openConnection } from './connection.js';
import type { Connection } from './connection.js';
import type { RegistryTables } from './schema.js';
import { describeLocation, parseRegistryLocation } from './url.js';
import type { BackendName, RegistryLocation } from './url.js';

/** What `registry copy` carries over; leases' locks and the registry's own id stay behind. */
export type CopyKind =
  | 'experiments'
  | 'runs'
  | 'params'
  | 'metrics'
  | 'tags'
  | 'artifacts'
  | 'datasets'
  | 'run_datasets'
  | 'models'
  | 'versions'
  | 'aliases'
  | 'alias_history'
  | 'studies'
  | 'study_trials';

export interface CopyCount {
  kind: CopyKind;
  /** Rows in the source. */
  source: number;
  /** Rows in the target after the copy (it may hold more than the source). */
  target: number;
  /** Rows this copy added. */
  copied: number;
  /** Source rows still not found in the target after the copy: 0 when verified. */
  missing: number;
}

export interface CopyResult {
  from: { backend: BackendName; url: string };
  to: { backend: BackendName; url: string };
  copied: number;
  verified: boolean;
  counts: CopyCount[];
}

type Row = Record<string, unknown>;
type Db = Kysely<RegistryTables>;

interface Spec {
  kind: CopyKind;
  table: string;
  /** Columns read and written; the database fills in its own surrogate ids. */
  columns: string[];
  /** Order of insertion, so that rows referring to earlier rows come after them. */
  order: string;
  /** The natural key; undefined for append-only logs, where a row is identified by its whole content and may repeat. */
  key?: string[];
  /** Columns that must agree when the key is already in the target; anything else is a conflict. */
  compare?: string[];
}

const RUN_COLUMNS = [
  'id',
  'experiment_id',
  'name',
  'parent_run_id',
  'status',
  'start_time',
  'end_time',
  'duration_ms',
  'peak_rss_bytes',
  'cpu_time_ms',
  'pid',
  'hostname',
  'error',
  'heartbeat_at',
  'lease_expires_at',
];
const DATASET_COLUMNS = [
  'id',
  'source',
  'source_sha256',
  'created_at',
  'rows_raw',
  'rows_rejected',
  'rows_dropped',
  'rows_train',
  'rows_test',
  'split_json',
  'manifest_sha256',
  'uri',
];
const VERSION_COLUMNS = [
  'model',
  'version',
  'run_id',
  'dataset_id',
  'bundle_uri',
  'bundle_sha256',
  'engine',
  'params_json',
  'metrics_json',
  'created_at',
  'status',
];

const STUDY_COLUMNS = [
  'name',
  'settings_json',
  'trials',
  'state',
  'created_at',
  'created_by_run_id',
  'finisher_run_id',
  'result_json',
  'finished_at',
];
const TRIAL_COLUMNS = [
  'study',
  'idx',
  'payload_json',
  'state',
  'attempts',
  'worker_run_id',
  'hostname',
  'claimed_at',
  'run_id',
  'score',
  'error',
  'ended_at',
];

/** In insertion order: experiments, runs and data sets before what refers to them. */
const SPECS: Spec[] = [
  { kind: 'experiments', table: 'experiments', columns: ['id', 'name', 'created_at'], order: 'id', key: ['name'] },
  {
    kind: 'runs',
    table: 'runs',
    columns: RUN_COLUMNS,
    order: 'start_time, id',
    key: ['id'],
    // experiment ids differ between registries: runs are compared by experiment name; leases are the holder's business
    compare: RUN_COLUMNS.filter((c) => !['id', 'experiment_id', 'heartbeat_at', 'lease_expires_at'].includes(c)).concat(
      'experiment',
    ),
  },
  { kind: 'datasets', table: 'datasets', columns: DATASET_COLUMNS, order: '', key: ['id'], compare: DATASET_COLUMNS },
  {
    kind: 'params',
    table: 'params',
    columns: ['run_id', 'key', 'value'],
    order: 'run_id, key',
    key: ['run_id', 'key'],
    compare: ['value'],
  },
  { kind: 'metrics', table: 'metrics', columns: ['run_id', 'key', 'value', 'step', 'timestamp'], order: 'id' },
  {
    kind: 'tags',
    table: 'tags',
    columns: ['run_id', 'key', 'value'],
    order: 'run_id, key',
    key: ['run_id', 'key'],
    compare: ['value'],
  },
  {
    kind: 'artifacts',
    table: 'artifacts',
    columns: ['run_id', 'path', 'size', 'sha256', 'uri', 'created_at'],
    order: 'run_id, path',
    key: ['run_id', 'path'],
    compare: ['size', 'sha256', 'uri'],
  },
  {
    kind: 'run_datasets',
    table: 'run_datasets',
    columns: ['run_id', 'dataset_id', 'role'],
    order: 'run_id, dataset_id, role',
    key: ['run_id', 'dataset_id', 'role'],
  },
  {
    kind: 'models',
    table: 'registered_models',
    columns: ['name', 'created_at', 'description'],
    order: 'name',
    key: ['name'],
  },
  {
    kind: 'versions',
    table: 'model_versions',
    columns: VERSION_COLUMNS,
    order: 'model, version',
    key: ['model', 'version'],
    compare: VERSION_COLUMNS,
  },
  {
    kind: 'aliases',
    table: 'aliases',
    columns: ['model', 'alias', 'version'],
    order: 'model, alias',
    key: ['model', 'alias'],
    compare: ['version'],
  },
  {
    kind: 'alias_history',
    table: 'alias_history',
    columns: ['model', 'alias', 'from_version', 'to_version', 'actor', 'reason', 'time'],
    order: 'id',
  },
  { kind: 'studies', table: 'studies', columns: STUDY_COLUMNS, order: 'name', key: ['name'], compare: STUDY_COLUMNS },
  {
    kind: 'study_trials',
    table: 'study_trials',
    columns: TRIAL_COLUMNS,
    order: 'study, idx',
    key: ['study', 'idx'],
    compare: TRIAL_COLUMNS,
  },
];

type Snapshot = Map<CopyKind, Row[]>;

/** Every copied row of one registry, in one consistent read; runs carry their experiment's name. */
async function readAll(db: Db, conn: Connection): Promise<Snapshot> {
  const snapshot: Snapshot = new Map();
  for (const spec of SPECS) {
    const order = spec.order === '' ? conn.insertOrder : spec.order;
    const cols = sql.join(spec.columns.map((c) => sql.ref(c)));
    const query = sql<Row>`SELECT ${cols} FROM ${sql.table(spec.table)} ORDER BY ${sql.raw(order)}`;
    snapshot.set(spec.kind, (await query.execute(db)).rows);
  }
  const names = new Map(rows(snapshot, 'experiments').map((e) => [Number(e.id), e.name]));
  for (const run of rows(snapshot, 'runs')) run.experiment = names.get(Number(run.experiment_id));
  return snapshot;
}

function rows(snapshot: Snapshot, kind: CopyKind): Row[] {
  return snapshot.get(kind) ?? [];
}

/** Numbers and text as one comparable string, whichever driver read them. */
function textOf(row: Row, columns: string[]): string {
  return JSON.stringify(columns.map((c) => (row[c] === undefined ? null : row[c])));
}

interface Plan {
  insert: Map<CopyKind, Row[]>;
  missing: Map<CopyKind, number>;
  conflicts: string[];
}

function describeKey(spec: Spec, row: Row): string {
  const label: Partial<Record<CopyKind, string>> = {
    runs: 'run',
    datasets: 'data set',
    params: 'param',
    tags: 'tag',
    artifacts: 'artifact',
    versions: 'model version',
    aliases: 'alias',
    studies: 'study',
    study_trials: 'study trial',
  };
  return `${label[spec.kind] ?? spec.kind} ${(spec.key ?? []).map((k) => String(row[k])).join('/')}`;
}

/** What the target lacks of the source, and which keys it holds with other content. */
function plan(source: Snapshot, target: Snapshot): Plan {
  const result: Plan = { insert: new Map(), missing: new Map(), conflicts: [] };
  for (const spec of SPECS) {
    const src = rows(source, spec.kind);
    const tgt = rows(target, spec.kind);
    const insert = spec.key ? planKeyed(spec, src, tgt, result.conflicts) : planLog(spec, src, tgt);
    result.insert.set(spec.kind, insert);
    result.missing.set(spec.kind, insert.length);
  }
  return result;
}

function planKeyed(spec: Spec, src: Row[], tgt: Row[], conflicts: string[]): Row[] {
  const key = spec.key!;
  const held = new Map(tgt.map((r) => [textOf(r, key), r]));
  const insert: Row[] = [];
  for (const row of src) {
    const there = held.get(textOf(row, key));
    if (there === undefined) insert.push(row);
    else if (spec.compare) {
      const differ = spec.compare.filter((c) => textOf(row, [c]) !== textOf(there, [c]));
      if (differ.length > 0) conflicts.push(`${describeKey(spec, row)} (${differ.join(', ')} differ)`);
    }
  }
  return insert;
}

/** Append-only logs: each distinct row is copied as many times as the source has it more than the target. */
function planLog(spec: Spec, src: Row[], tgt: Row[]): Row[] {
  const held = new Map<string, number>();
  for (const r of tgt) {
    const k = textOf(r, spec.columns);
    held.set(k, (held.get(k) ?? 0) + 1);
  }
  const insert: Row[] = [];
  for (const row of src) {
    const k = textOf(row, spec.columns);
    const n = held.get(k) ?? 0;
    if (n > 0) held.set(k, n - 1);
    else insert.push(row);
  }
  return insert;
}

/** Parents before children: a run's parent is in the target or inserted earlier. */
function parentsFirst(runs: Row[], present: Set<string>): Row[] {
  const ordered: Row[] = [];
  let pending = runs;
  while (pending.length > 0) {
    const later: Row[] = [];
    for (const run of pending) {
      const parent = run.parent_run_id as string | null;
      if (parent === null || present.has(parent)) {
        ordered.push(run);
        present.add(run.id as string);
      } else later.push(run);
    }
    if (later.length === pending.length) {
      throw new RainopsError(
        `run ${String(later[0]!.id)} has a parent run the source does not hold; nothing was copied`,
      );
    }
    pending = later;
  }
  return ordered;
}

/** Rows a statement may carry without reaching either database's limit on bound values. */
const VALUES_PER_STATEMENT = 10_000;

async function insertRows(db: Db, table: string, columns: string[], values: Row[]): Promise<void> {
  const chunk = Math.max(1, Math.floor(VALUES_PER_STATEMENT / columns.length));
  const cols = sql.join(columns.map((c) => sql.ref(c)));
  for (let i = 0; i < values.length; i += chunk) {
    const tuples = values.slice(i, i + chunk).map((r) => sql`(${sql.join(columns.map((c) => r[c] ?? null))})`);
    await sql`INSERT INTO ${sql.table(table)} (${cols}) VALUES ${sql.join(tuples)}`.execute(db);
  }
}

/** Experiments get the target's ids (new ones or the existing ones of the same name); returns name -> id. */
async function insertExperiments(db: Db, insert: Row[], target: Snapshot): Promise<Map<unknown, number>> {
  const ids = new Map(rows(target, 'experiments').map((e) => [e.name, Number(e.id)]));
  for (const e of insert) {
    const made = await sql<{
      id: number;
    }>`INSERT INTO experiments (name, created_at) VALUES (${e.name}, ${e.created_at})
      RETURNING id`.execute(db);
    ids.set(e.name, Number(made.rows[0]!.id));
  }
  return ids;
}

async function apply(db: Db, todo: Plan, target: Snapshot): Promise<void> {
  for (const spec of SPECS) {
    const insert = todo.insert.get(spec.kind) ?? [];
    if (spec.kind === 'experiments') continue;
    if (spec.kind === 'runs') {
      const ids = await insertExperiments(db, todo.insert.get('experiments') ?? [], target);
      const present = new Set(rows(target, 'runs').map((r) => r.id as string));
      const mapped = insert.map((r) => ({ ...r, experiment_id: ids.get(r.experiment) }));
      await insertRows(db, spec.table, spec.columns, parentsFirst(mapped, present));
    } else {
      await insertRows(db, spec.table, spec.columns, insert);
    }
  }
}

/** Runs `fn` in one transaction on `conn`: a consistent read, or a write holding the registry's write lock. */
async function transaction<T>(conn: Connection, kind: 'read' | 'write', fn: (db: Db) => Promise<T>): Promise<T> {
  return conn.db.connection().execute(async (c) => {
    await sql.raw(kind === 'write' ? conn.beginWrite : conn.beginRead).execute(c);
    try {
      if (kind === 'write' && conn.writeLock) await conn.writeLock.execute(c);
      const result = await fn(c);
      await sql`COMMIT`.execute(c);
      return result;
    } catch (err) {
      await sql`ROLLBACK`.execute(c).catch(() => {});
      throw err;
    }
  });
}

function conflictError(to: string, conflicts: string[]): ConflictError {
  const shown = conflicts.slice(0, 10).join('; ');
  const more = conflicts.length > 10 ? `; and ${conflicts.length - 10} more` : '';
  return new ConflictError(
    `registry ${to} already holds different data under the same ids: ${shown}${more}; nothing was copied, so copy into another registry or reconcile these first`,
  );
}

function checkSourceExists(location: RegistryLocation, name: string): void {
  if (location.backend !== 'sqlite' || location.file === ':memory:') return;
  if ((fs.statSync(location.file, { throwIfNoEntry: false })?.size ?? 0) > 0) return;
  throw new RainopsError(`there is no registry at ${name} to copy from; check the --from path`);
}

/**
 * Copies every experiment, run (with params, metrics, tags, artifact records), data set and link, model,
 * version, alias and alias history row of `from` that `to` lacks, in one write transaction on `to` (migrated
 * first). Rows are matched by natural keys, so a second copy adds nothing; a key `to` holds with other content
 * is a ConflictError and nothing is written. Locks and the registry id are not copied.
 */
export async function copyRegistry(
  from: string | RegistryLocation,
  to: string | RegistryLocation,
): Promise<CopyResult> {
  const fromLoc = typeof from === 'string' ? parseRegistryLocation(from) : from;
  const toLoc = typeof to === 'string' ? parseRegistryLocation(to) : to;
  checkSourceExists(fromLoc, describeLocation(fromLoc));
  const source = await openConnection(fromLoc, true);
  try {
    const target = await openConnection(toLoc, false);
    try {
      return await copyBetween(source, target);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

async function copyBetween(source: Connection, target: Connection): Promise<CopyResult> {
  const src = await transaction(source, 'read', (db) => readAll(db, source));
  const todo = await transaction(target, 'write', async (db) => {
    const before = await readAll(db, target);
    const p = plan(src, before);
    if (p.conflicts.length > 0) throw conflictError(target.name, p.conflicts);
    await apply(db, p, before);
    return p;
  });
  const after = await transaction(target, 'read', (db) => readAll(db, target));
  const check = plan(src, after);
  const counts = SPECS.map((spec) => ({
    kind: spec.kind,
    source: rows(src, spec.kind).length,
    target: rows(after, spec.kind).length,
    copied: todo.insert.get(spec.kind)?.length ?? 0,
    missing: check.missing.get(spec.kind) ?? 0,
  }));
  return {
    from: { backend: source.backend, url: source.name },
    to: { backend: target.backend, url: target.name },
    copied: counts.reduce((sum, c) => sum + c.copied, 0),
    verified: counts.every((c) => c.missing === 0) && check.conflicts.length === 0,
    counts,
  };
}
