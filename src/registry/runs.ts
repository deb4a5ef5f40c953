import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { ConflictError, UsageError } from '../errors.js';
import { checkWritable, isoNow } from './context.js';
import type { RegistryContext } from './context.js';
import { describeLapse, lapse } from './leases.js';
import { RUN_LOOKUP, notFound, requireExactId, resolveId } from './lookup.js';
import { DATASET_COLUMNS, RUN_SELECT, inList, metricValue, toDataset, toRun } from './rows.js';
import type { DatasetRow, RunRow } from './rows.js';
import type {
  Artifact,
  ArtifactInput,
  DatasetRole,
  FinishRunInput,
  MetricPoint,
  ParamValue,
  Run,
  RunDetail,
  RunSummary,
  StartRunInput,
} from './types.js';
import { checkCount, checkKey, checkNonEmpty, checkSha256 } from './validate.js';

function newRunId(): string {
  return randomBytes(16).toString('hex');
}

export async function loadRun(ctx: RegistryContext, id: string): Promise<Run> {
  const row = await ctx.one(sql<RunRow>`${RUN_SELECT} WHERE r.id = ${id}`);
  if (!row) throw notFound(RUN_LOOKUP, id);
  return presentRun(ctx, toRun(row));
}

/** A read-only registry cannot record that a run's holder is gone, so it shows the run as a writer would. */
export function presentRun<R extends Run>(ctx: RegistryContext, run: R): R {
  const stale = run.status === 'RUNNING' ? ctx.staleRuns.get(run.id) : undefined;
  if (!stale) return run;
  return {
    ...run,
    status: 'FAILED',
    endTime: stale.endTime,
    durationMs: elapsedMs(run.startTime, new Date(stale.endTime)),
    error: stale.error,
  };
}

export async function startRun(ctx: RegistryContext, input: StartRunInput): Promise<Run> {
  checkNonEmpty('run name', input.name);
  checkNonEmpty('experiment name', input.experiment);
  const tags = Object.entries(input.tags ?? {});
  for (const [key] of tags) checkKey('tag', key);
  checkWritable(ctx);
  // runs are never deleted, so a parent found here is still there when the run is inserted
  const parent = input.parentRunId ? await requireExactId(ctx, RUN_LOOKUP, input.parentRunId) : null;
  const id = newRunId();
  const now = ctx.now();
  const start = now.toISOString();
  const insertRun = sql<{ experiment_id: number }>`INSERT INTO runs (id, experiment_id, name, parent_run_id, status,
      start_time, pid, hostname, heartbeat_at, lease_expires_at)
    SELECT ${id}, e.id, ${input.name}, ${parent}, 'RUNNING', ${start}, ${ctx.pid}, ${ctx.hostname}, ${start},
      ${ctx.leases.expiry(now)}
    FROM experiments e WHERE e.name = ${input.experiment} RETURNING experiment_id`;
  // a lock taken before its run started names the first top-level run, so an operator sees whose it is
  const tokens = parent === null ? ctx.leases.lockTokens() : [];
  const insert = async (tx: RegistryContext): Promise<number> => {
    let row = (await tx.writeOne(insertRun)).rows[0];
    if (!row) {
      // ON CONFLICT DO NOTHING: of two processes creating the experiment at once, the second uses the first's
      await tx.writeOne(
        sql`INSERT INTO experiments (name, created_at) VALUES (${input.experiment}, ${start}) ON CONFLICT (name) DO NOTHING`,
      );
      row = (await tx.writeOne(insertRun)).rows[0];
      if (!row) throw new Error(`experiment ${input.experiment} vanished right after it was created`);
    }
    if (tags.length > 0) {
      const rows = tags.map(([key, value]) => sql`(${id}, ${key}, ${value})`);
      await tx.run(sql`INSERT INTO tags (run_id, key, value) VALUES ${sql.join(rows)}`);
    }
    if (tokens.length > 0) {
      await tx.run(sql`UPDATE locks SET run_id = ${id} WHERE run_id IS NULL AND token IN (${inList(tokens)})`);
    }
    return row.experiment_id;
  };
  // no global lock: a new random id, its own tags and this process's own lock tokens leave nothing to race for
  const experimentId = tags.length === 0 && tokens.length === 0 ? await insert(ctx) : await ctx.writeUnlocked(insert);
  ctx.leases.holdRun(id);
  const run: Run = {
    id,
    experimentId,
    experiment: input.experiment,
    name: input.name,
    parentRunId: parent,
    status: 'RUNNING',
    startTime: start,
    endTime: null,
    durationMs: null,
    peakRssBytes: null,
    cpuTimeMs: null,
    pid: ctx.pid,
    hostname: ctx.hostname,
    error: null,
  };
  ctx.startedRuns.set(id, run);
  return run;
}

/** Runs a write of rows that belong to run `runId`: a run that does not exist fails the foreign key, said as such. */
async function ofRun<T>(ctx: RegistryContext, runId: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (ctx.conn.isMissingReference(err)) throw notFound(RUN_LOOKUP, runId);
    throw err;
  }
}

function paramText(value: ParamValue): string {
  return value === null ? 'null' : String(value);
}

/** Params are set once per run, like MLflow's: logging the same value again is fine, a different one is an error. */
export async function logParams(
  ctx: RegistryContext,
  runId: string,
  params: Record<string, ParamValue>,
): Promise<void> {
  const entries = byKey(Object.entries(params).map(([key, raw]) => [key, paramText(raw)]));
  for (const [key] of entries) checkKey('param', key);
  checkWritable(ctx);
  if (entries.length === 0) {
    await requireExactId(ctx, RUN_LOOKUP, runId);
    return;
  }
  // no global lock: a param is only inserted, never changed, so the first value stays and reading it back after
  // the insert (which waits for a concurrent one of the same key) tells a conflict; keys go in one order, so no deadlock
  await ctx.writeUnlocked(async (tx) => {
    await ofRun(tx, runId, () =>
      tx.run(
        sql`INSERT INTO params (run_id, key, value) VALUES ${rowsOf(runId, entries)} ON CONFLICT (run_id, key) DO NOTHING`,
      ),
    );
    const stored = await tx.all(
      sql<{ key: string; value: string }>`SELECT key, value FROM params
        WHERE run_id = ${runId} AND key IN (${inList(entries.map(([key]) => key))})`,
    );
    const old = new Map(stored.map((row) => [row.key, row.value]));
    for (const [key, value] of entries) {
      const was = old.get(key);
      if (was !== value) {
        throw new ConflictError(
          `param ${key} of run ${runId} is already '${was}' and cannot become '${value}'; params never change once logged, so start a new run instead`,
        );
      }
    }
  });
}

/** Entries sorted by key: writers that upsert several keys of one run take their row locks in one order. */
function byKey(entries: Array<[string, string]>): Array<[string, string]> {
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `(run_id, key, value), ...` for an INSERT. */
function rowsOf(runId: string, entries: ReadonlyArray<readonly [string, string]>) {
  return sql.join(entries.map(([key, value]) => sql`(${runId}, ${key}, ${value})`));
}

function checkMetric(key: string, value: number, step: number): void {
  checkKey('metric', key);
  if (typeof value !== 'number') throw new UsageError(`metric ${key} must be a number, not ${typeof value}`);
  if (!Number.isSafeInteger(step)) throw new UsageError(`metric ${key} step must be a whole number, not ${step}`);
}

async function insertMetrics(
  ctx: RegistryContext,
  runId: string,
  entries: ReadonlyArray<[string, number]>,
  step: number,
): Promise<void> {
  checkWritable(ctx);
  if (entries.length === 0) {
    await requireExactId(ctx, RUN_LOOKUP, runId);
    return;
  }
  const time = isoNow(ctx);
  const rows = entries.map(
    ([key, value]) => sql`(${runId}, ${key}, ${Number.isNaN(value) ? null : value}, ${step}, ${time})`,
  );
  // no global lock: metrics are append-only rows of a run, and runs are never deleted
  await ofRun(ctx, runId, () =>
    ctx.writeOne(sql`INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES ${sql.join(rows)}`),
  );
}

export async function logMetric(
  ctx: RegistryContext,
  runId: string,
  key: string,
  value: number,
  step = 0,
): Promise<void> {
  checkMetric(key, value, step);
  await insertMetrics(ctx, runId, [[key, value]], step);
}

export async function logMetrics(
  ctx: RegistryContext,
  runId: string,
  metrics: Record<string, number>,
  step = 0,
): Promise<void> {
  const entries = Object.entries(metrics);
  for (const [key, value] of entries) checkMetric(key, value, step);
  await insertMetrics(ctx, runId, entries, step);
}

export async function setTags(ctx: RegistryContext, runId: string, tags: Record<string, string>): Promise<void> {
  const entries = byKey(Object.entries(tags).map(([key, value]) => [key, String(value)]));
  for (const [key] of entries) checkKey('tag', key);
  checkWritable(ctx);
  if (entries.length === 0) {
    await requireExactId(ctx, RUN_LOOKUP, runId);
    return;
  }
  // no global lock: one upsert statement, keys in one order, so concurrent writers never deadlock and the last wins
  await ofRun(ctx, runId, () =>
    ctx.writeOne(
      sql`INSERT INTO tags (run_id, key, value) VALUES ${rowsOf(runId, entries)}
        ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value`,
    ),
  );
}

export function upsertTag(tx: RegistryContext, runId: string, key: string, value: string): Promise<number> {
  return tx.run(
    sql`INSERT INTO tags (run_id, key, value) VALUES (${runId}, ${key}, ${value})
      ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value`,
  );
}

/** Logging the same path again replaces its record (a re-uploaded report). */
export async function logArtifact(ctx: RegistryContext, runId: string, artifact: ArtifactInput): Promise<void> {
  checkNonEmpty('artifact path', artifact.path);
  checkNonEmpty('artifact uri', artifact.uri);
  checkCount('artifact size', artifact.size);
  checkSha256(`sha256 of artifact ${artifact.path}`, artifact.sha256);
  checkWritable(ctx);
  // no global lock: one upsert keyed by run and path, so the last record of a path wins, as it would in turn
  await ofRun(ctx, runId, () =>
    ctx.writeOne(
      sql`INSERT INTO artifacts (run_id, path, size, sha256, uri, created_at)
        VALUES (${runId}, ${artifact.path}, ${artifact.size}, ${artifact.sha256}, ${artifact.uri}, ${isoNow(ctx)})
        ON CONFLICT (run_id, path) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256,
          uri = excluded.uri, created_at = excluded.created_at`,
    ),
  );
}

function optionalCount(what: string, value: number | null | undefined): number | null {
  if (value === undefined || value === null) return null;
  const rounded = Math.round(value);
  checkCount(what, rounded);
  return rounded;
}

export function elapsedMs(startIso: string, end: Date): number {
  return Math.max(0, end.getTime() - Date.parse(startIso));
}

export async function finishRun(ctx: RegistryContext, runId: string, input: FinishRunInput): Promise<Run> {
  if (input.status !== 'FINISHED' && input.status !== 'FAILED') {
    throw new UsageError(`a run finishes as FINISHED or FAILED, not ${String(input.status)}`);
  }
  const peak = optionalCount('peak RSS bytes', input.peakRssBytes);
  const cpu = optionalCount('CPU time (ms)', input.cpuTimeMs);
  checkWritable(ctx);
  ctx.leases.dropRun(runId);
  const started = ctx.startedRuns.get(runId);
  ctx.startedRuns.delete(runId);
  // a run this connection started needs no read: if anyone changed its status since, the update below says so
  const run = started ?? (await loadRun(ctx, runId));
  if (run.status !== 'RUNNING') throw notRunning(run);
  const end = ctx.now();
  const finished: Run = {
    ...run,
    status: input.status,
    endTime: end.toISOString(),
    // a run's start never changes, so it may be read before the update
    durationMs: elapsedMs(run.startTime, end),
    peakRssBytes: peak,
    cpuTimeMs: cpu,
    error: input.error ?? null,
  };
  // no global lock: a compare-and-set on the status, so a run another process finished or failed meanwhile stays as is
  const changed = await ctx.writeOne(
    sql`UPDATE runs SET status = ${finished.status}, end_time = ${finished.endTime}, duration_ms = ${finished.durationMs},
        peak_rss_bytes = ${peak}, cpu_time_ms = ${cpu}, error = ${finished.error},
        heartbeat_at = ${finished.endTime}, lease_expires_at = NULL
      WHERE id = ${runId} AND status = 'RUNNING'`,
  );
  if (Number(changed.numAffectedRows ?? 0n) === 0) throw notRunning(await loadRun(ctx, runId));
  return finished;
}

function notRunning(run: Run): ConflictError {
  const why = run.error ? ` (${run.error})` : '';
  return new ConflictError(`run ${run.id} is already ${run.status}${why}; only a RUNNING run can be finished`);
}

interface LeaseRow {
  id: string;
  pid: number;
  hostname: string;
  start_time: string;
  heartbeat_at: string | null;
  lease_expires_at: string | null;
}

/** RUNNING runs, other than this connection's own, whose lease ran out or whose process died on this host. */
export async function findStaleRuns(
  ctx: RegistryContext,
): Promise<Array<{ id: string; startTime: string; error: string }>> {
  const running = await ctx.all(
    sql<LeaseRow>`SELECT id, pid, hostname, start_time, heartbeat_at, lease_expires_at FROM runs WHERE status = 'RUNNING'`,
  );
  const now = ctx.now();
  const stale: Array<{ id: string; startTime: string; error: string }> = [];
  for (const r of running) {
    if (ctx.leases.holdsRun(r.id)) continue;
    const why = lapse(
      { pid: r.pid, hostname: r.hostname, heartbeatAt: r.heartbeat_at, leaseExpiresAt: r.lease_expires_at },
      ctx,
      now,
    );
    if (why) stale.push({ id: r.id, startTime: r.start_time, error: describeLapse(why, 'run') });
  }
  return stale;
}

/** Marks one RUNNING run FAILED; 1 when it was still RUNNING, 0 when someone finished or failed it first. */
export function failRun(tx: RegistryContext, id: string, startTime: string, end: Date, error: string): Promise<number> {
  return tx.run(
    sql`UPDATE runs SET status = 'FAILED', end_time = ${end.toISOString()}, duration_ms = ${elapsedMs(startTime, end)},
        error = ${error}, lease_expires_at = NULL
      WHERE id = ${id} AND status = 'RUNNING'`,
  );
}

/**
 * RUNNING runs whose holder is gone (lease run out on any host, or process dead on this one) become FAILED;
 * returns how many. A read-only registry only shows them as FAILED.
 */
export async function reapDeadRuns(ctx: RegistryContext): Promise<number> {
  // found outside the transaction so no write lock is held across system calls
  const stale = await findStaleRuns(ctx);
  if (ctx.readOnly) {
    const endTime = isoNow(ctx);
    ctx.staleRuns.clear();
    for (const s of stale) ctx.staleRuns.set(s.id, { error: s.error, endTime });
    return 0;
  }
  if (stale.length === 0) return 0;
  return ctx.write(async (tx) => {
    const end = tx.now();
    let count = 0;
    for (const r of stale) count += await failRun(tx, r.id, r.startTime, end, r.error);
    return count;
  });
}

/** Runs per query when values are read for many runs: well under either database's limit on bound values. */
const CHUNK = 500;

/** Params, tags and latest metrics for many runs in three queries per few hundred runs. */
export async function loadRunValues(ctx: RegistryContext, runs: readonly Run[]): Promise<RunSummary[]> {
  const byId = new Map<string, RunSummary>();
  for (const run of runs) byId.set(run.id, { ...run, params: {}, metrics: {}, tags: {} });
  for (let i = 0; i < runs.length; i += CHUNK) {
    const ids = inList(runs.slice(i, i + CHUNK).map((r) => r.id));
    const kv = (table: 'params' | 'tags') =>
      ctx.all(
        sql<{ run_id: string; key: string; value: string }>`SELECT run_id, key, value FROM ${sql.table(table)}
          WHERE run_id IN (${ids}) ORDER BY key`,
      );
    for (const row of await kv('params')) {
      const summary = byId.get(row.run_id);
      if (summary) summary.params[row.key] = row.value;
    }
    for (const row of await kv('tags')) {
      const summary = byId.get(row.run_id);
      if (summary) summary.tags[row.key] = row.value;
    }
    const latest = await ctx.all(
      sql<{ run_id: string; key: string; value: number | null }>`SELECT run_id, key, value FROM (
         SELECT run_id, key, value,
           row_number() OVER (PARTITION BY run_id, key ORDER BY step DESC, id DESC) AS rn
         FROM metrics WHERE run_id IN (${ids})
       ) latest WHERE rn = 1 ORDER BY key`,
    );
    for (const row of latest) {
      const summary = byId.get(row.run_id);
      if (summary) summary.metrics[row.key] = metricValue(row.value);
    }
  }
  return runs.map((r) => byId.get(r.id) as RunSummary);
}

export async function getRun(ctx: RegistryContext, idOrPrefix: string): Promise<RunDetail> {
  const id = await resolveId(ctx, RUN_LOOKUP, idOrPrefix);
  return ctx.read(async (tx) => {
    const [summary] = await loadRunValues(tx, [await loadRun(tx, id)]);
    if (!summary) throw new Error(`run ${id} vanished while it was read`);
    const metricHistory: Record<string, MetricPoint[]> = {};
    const points = await tx.all(
      sql<{ key: string; value: number | null; step: number; timestamp: string }>`SELECT key, value, step, timestamp
        FROM metrics WHERE run_id = ${id} ORDER BY key, step, id`,
    );
    for (const p of points) {
      metricHistory[p.key] ??= [];
      metricHistory[p.key]!.push({ value: metricValue(p.value), step: p.step, timestamp: p.timestamp });
    }
    const artifacts: Artifact[] = (
      await tx.all(
        sql<{ path: string; size: number; sha256: string; uri: string; created_at: string }>`SELECT path, size, sha256,
          uri, created_at FROM artifacts WHERE run_id = ${id} ORDER BY path`,
      )
    ).map((a) => ({ path: a.path, size: a.size, sha256: a.sha256, uri: a.uri, createdAt: a.created_at }));
    const datasets = (
      await tx.all(
        sql<DatasetRow & { role: DatasetRole }>`SELECT ${DATASET_COLUMNS}, rd.role FROM datasets d
          JOIN run_datasets rd ON rd.dataset_id = d.id WHERE rd.run_id = ${id} ORDER BY rd.role, d.created_at`,
      )
    ).map((row) => ({ ...toDataset(row), role: row.role }));
    const children = await tx.one(sql<{ n: number }>`SELECT count(*) AS n FROM runs WHERE parent_run_id = ${id}`);
    return { ...summary, metricHistory, artifacts, datasets, childrenCount: children?.n ?? 0 };
  });
}
