import { randomBytes } from 'node:crypto';
import { ConflictError, UsageError } from '../errors.js';
import { isoNow } from './context.js';
import type { RegistryContext } from './context.js';
import { getOrCreateExperiment } from './experiments.js';
import { describeLapse, lapse } from './leases.js';
import { RUN_LOOKUP, requireExactId, resolveId } from './lookup.js';
import { DATASET_COLUMNS, RUN_SELECT, metricValue, toDataset, toRun } from './rows.js';
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

export function loadRun(ctx: RegistryContext, id: string): Run {
  const row = ctx.stmt<RunRow>(`${RUN_SELECT} WHERE r.id = ?`).get(requireExactId(ctx, RUN_LOOKUP, id));
  if (!row) throw new Error(`run ${id} vanished while it was read`);
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

export function startRun(ctx: RegistryContext, input: StartRunInput): Run {
  checkNonEmpty('run name', input.name);
  const tags = Object.entries(input.tags ?? {});
  for (const [key] of tags) checkKey('tag', key);
  const run = ctx.write(() => {
    const experiment = getOrCreateExperiment(ctx, input.experiment);
    const parent = input.parentRunId ? requireExactId(ctx, RUN_LOOKUP, input.parentRunId) : null;
    const id = newRunId();
    const now = ctx.now();
    ctx
      .stmt(
        `INSERT INTO runs (id, experiment_id, name, parent_run_id, status, start_time, pid, hostname, heartbeat_at, lease_expires_at)
         VALUES (?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        experiment.id,
        input.name,
        parent,
        now.toISOString(),
        ctx.pid,
        ctx.hostname,
        now.toISOString(),
        ctx.leases.expiry(now),
      );
    const insertTag = ctx.stmt('INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)');
    for (const [key, value] of tags) insertTag.run(id, key, value);
    // a lock taken before its run started names the first top-level run, so an operator sees whose it is
    if (parent === null) {
      ctx
        .stmt('UPDATE locks SET run_id = ? WHERE run_id IS NULL AND token IN (SELECT value FROM json_each(?))')
        .run(id, JSON.stringify(ctx.leases.lockTokens()));
    }
    return loadRun(ctx, id);
  });
  ctx.leases.holdRun(run.id);
  return run;
}

function paramText(value: ParamValue): string {
  return value === null ? 'null' : String(value);
}

/** Params are set once per run, like MLflow's: logging the same value again is fine, a different one is an error. */
export function logParams(ctx: RegistryContext, runId: string, params: Record<string, ParamValue>): void {
  const entries = Object.entries(params);
  for (const [key] of entries) checkKey('param', key);
  ctx.write(() => {
    requireExactId(ctx, RUN_LOOKUP, runId);
    const existing = ctx.stmt<{ value: string }>('SELECT value FROM params WHERE run_id = ? AND key = ?');
    const insert = ctx.stmt('INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)');
    for (const [key, raw] of entries) {
      const value = paramText(raw);
      const old = existing.get(runId, key);
      if (old === undefined) insert.run(runId, key, value);
      else if (old.value !== value) {
        throw new ConflictError(
          `param ${key} of run ${runId} is already '${old.value}' and cannot become '${value}'; params never change once logged, so start a new run instead`,
        );
      }
    }
  });
}

function checkMetric(key: string, value: number, step: number): void {
  checkKey('metric', key);
  if (typeof value !== 'number') throw new UsageError(`metric ${key} must be a number, not ${typeof value}`);
  if (!Number.isSafeInteger(step)) throw new UsageError(`metric ${key} step must be a whole number, not ${step}`);
}

function insertMetric(
  ctx: RegistryContext,
  runId: string,
  key: string,
  value: number,
  step: number,
  time: string,
): void {
  ctx
    .stmt('INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?)')
    .run(runId, key, Number.isNaN(value) ? null : value, step, time);
}

export function logMetric(ctx: RegistryContext, runId: string, key: string, value: number, step = 0): void {
  checkMetric(key, value, step);
  ctx.write(() => {
    requireExactId(ctx, RUN_LOOKUP, runId);
    insertMetric(ctx, runId, key, value, step, isoNow(ctx));
  });
}

export function logMetrics(ctx: RegistryContext, runId: string, metrics: Record<string, number>, step = 0): void {
  const entries = Object.entries(metrics);
  for (const [key, value] of entries) checkMetric(key, value, step);
  ctx.write(() => {
    requireExactId(ctx, RUN_LOOKUP, runId);
    const time = isoNow(ctx);
    for (const [key, value] of entries) insertMetric(ctx, runId, key, value, step, time);
  });
}

export function setTags(ctx: RegistryContext, runId: string, tags: Record<string, string>): void {
  const entries = Object.entries(tags);
  for (const [key] of entries) checkKey('tag', key);
  ctx.write(() => {
    requireExactId(ctx, RUN_LOOKUP, runId);
    const upsert = ctx.stmt(
      `INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)
       ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value`,
    );
    for (const [key, value] of entries) upsert.run(runId, key, String(value));
  });
}

/** Logging the same path again replaces its record (a re-uploaded report). */
export function logArtifact(ctx: RegistryContext, runId: string, artifact: ArtifactInput): void {
  checkNonEmpty('artifact path', artifact.path);
  checkNonEmpty('artifact uri', artifact.uri);
  checkCount('artifact size', artifact.size);
  checkSha256(`sha256 of artifact ${artifact.path}`, artifact.sha256);
  ctx.write(() => {
    requireExactId(ctx, RUN_LOOKUP, runId);
    ctx
      .stmt(
        `INSERT INTO artifacts (run_id, path, size, sha256, uri, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, path) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256,
           uri = excluded.uri, created_at = excluded.created_at`,
      )
      .run(runId, artifact.path, artifact.size, artifact.sha256, artifact.uri, isoNow(ctx));
  });
}

function optionalCount(what: string, value: number | null | undefined): number | null {
  if (value === undefined || value === null) return null;
  const rounded = Math.round(value);
  checkCount(what, rounded);
  return rounded;
}

function elapsedMs(startIso: string, end: Date): number {
  return Math.max(0, end.getTime() - Date.parse(startIso));
}

export function finishRun(ctx: RegistryContext, runId: string, input: FinishRunInput): Run {
  if (input.status !== 'FINISHED' && input.status !== 'FAILED') {
    throw new UsageError(`a run finishes as FINISHED or FAILED, not ${String(input.status)}`);
  }
  const peak = optionalCount('peak RSS bytes', input.peakRssBytes);
  const cpu = optionalCount('CPU time (ms)', input.cpuTimeMs);
  ctx.leases.dropRun(runId);
  return ctx.write(() => {
    const run = loadRun(ctx, runId);
    if (run.status !== 'RUNNING') {
      const why = run.error ? ` (${run.error})` : '';
      throw new ConflictError(`run ${runId} is already ${run.status}${why}; only a RUNNING run can be finished`);
    }
    const end = ctx.now();
    ctx
      .stmt(
        `UPDATE runs SET status = ?, end_time = ?, duration_ms = ?, peak_rss_bytes = ?, cpu_time_ms = ?, error = ?,
           heartbeat_at = ?, lease_expires_at = NULL
         WHERE id = ?`,
      )
      .run(
        input.status,
        end.toISOString(),
        elapsedMs(run.startTime, end),
        peak,
        cpu,
        input.error ?? null,
        end.toISOString(),
        runId,
      );
    return loadRun(ctx, runId);
  });
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
export function findStaleRuns(ctx: RegistryContext): Array<{ id: string; startTime: string; error: string }> {
  const running = ctx
    .stmt<LeaseRow>(
      "SELECT id, pid, hostname, start_time, heartbeat_at, lease_expires_at FROM runs WHERE status = 'RUNNING'",
    )
    .all();
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

/**
 * RUNNING runs whose holder is gone (lease run out on any host, or process dead on this one) become FAILED;
 * returns how many. A read-only registry only shows them as FAILED.
 */
export function reapDeadRuns(ctx: RegistryContext): number {
  // found outside the transaction so no write lock is held across system calls
  const stale = findStaleRuns(ctx);
  if (ctx.readOnly) {
    const endTime = isoNow(ctx);
    ctx.staleRuns.clear();
    for (const s of stale) ctx.staleRuns.set(s.id, { error: s.error, endTime });
    return 0;
  }
  if (stale.length === 0) return 0;
  return ctx.write(() => {
    const end = ctx.now();
    const update = ctx.stmt(
      `UPDATE runs SET status = 'FAILED', end_time = ?, duration_ms = ?, error = ?, lease_expires_at = NULL
       WHERE id = ? AND status = 'RUNNING'`,
    );
    let count = 0;
    for (const r of stale) count += update.run(end.toISOString(), elapsedMs(r.startTime, end), r.error, r.id).changes;
    return count;
  });
}

function idsJson(ids: readonly string[]): string {
  return JSON.stringify(ids);
}

/** Params, tags and latest metrics for many runs in three queries. */
export function loadRunValues(ctx: RegistryContext, runs: readonly Run[]): RunSummary[] {
  const byId = new Map<string, RunSummary>();
  for (const run of runs) byId.set(run.id, { ...run, params: {}, metrics: {}, tags: {} });
  const ids = idsJson(runs.map((r) => r.id));
  const kv = (table: 'params' | 'tags') =>
    ctx
      .stmt<{ run_id: string; key: string; value: string }>(
        `SELECT run_id, key, value FROM ${table} WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY key`,
      )
      .all(ids);
  for (const row of kv('params')) {
    const summary = byId.get(row.run_id);
    if (summary) summary.params[row.key] = row.value;
  }
  for (const row of kv('tags')) {
    const summary = byId.get(row.run_id);
    if (summary) summary.tags[row.key] = row.value;
  }
  const latest = ctx
    .stmt<{ run_id: string; key: string; value: number | null }>(
      `SELECT run_id, key, value FROM (
         SELECT run_id, key, value,
           row_number() OVER (PARTITION BY run_id, key ORDER BY step DESC, id DESC) AS rn
         FROM metrics WHERE run_id IN (SELECT value FROM json_each(?))
       ) WHERE rn = 1 ORDER BY key`,
    )
    .all(ids);
  for (const row of latest) {
    const summary = byId.get(row.run_id);
    if (summary) summary.metrics[row.key] = metricValue(row.value);
  }
  return runs.map((r) => byId.get(r.id) as RunSummary);
}

export function getRun(ctx: RegistryContext, idOrPrefix: string): RunDetail {
  const id = resolveId(ctx, RUN_LOOKUP, idOrPrefix);
  return ctx.db
    .transaction(() => {
      const [summary] = loadRunValues(ctx, [loadRun(ctx, id)]);
      if (!summary) throw new Error(`run ${id} vanished while it was read`);
      const metricHistory: Record<string, MetricPoint[]> = {};
      const points = ctx
        .stmt<{ key: string; value: number | null; step: number; timestamp: string }>(
          'SELECT key, value, step, timestamp FROM metrics WHERE run_id = ? ORDER BY key, step, id',
        )
        .all(id);
      for (const p of points) {
        metricHistory[p.key] ??= [];
        metricHistory[p.key]!.push({ value: metricValue(p.value), step: p.step, timestamp: p.timestamp });
      }
      const artifacts: Artifact[] = ctx
        .stmt<{ path: string; size: number; sha256: string; uri: string; created_at: string }>(
          'SELECT path, size, sha256, uri, created_at FROM artifacts WHERE run_id = ? ORDER BY path',
        )
        .all(id)
        .map((a) => ({ path: a.path, size: a.size, sha256: a.sha256, uri: a.uri, createdAt: a.created_at }));
      const datasets = ctx
        .stmt<DatasetRow & { role: DatasetRole }>(
          `SELECT ${DATASET_COLUMNS}, rd.role FROM datasets d JOIN run_datasets rd ON rd.dataset_id = d.id
           WHERE rd.run_id = ? ORDER BY rd.role, d.created_at`,
        )
        .all(id)
        .map((row) => ({ ...toDataset(row), role: row.role }));
      const children = ctx.stmt<{ n: number }>('SELECT count(*) AS n FROM runs WHERE parent_run_id = ?').get(id);
      return { ...summary, metricHistory, artifacts, datasets, childrenCount: children?.n ?? 0 };
    })
    .deferred();
}
