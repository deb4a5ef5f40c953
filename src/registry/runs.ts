import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { ConflictError, UsageError } from '../errors.js';
import { isoNow } from './context.js';
import type { RegistryContext } from './context.js';
import { getOrCreateExperiment } from './experiments.js';
import { describeLapse, lapse } from './leases.js';
import { RUN_LOOKUP, requireExactId, resolveId } from './lookup.js';
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
  const exact = await requireExactId(ctx, RUN_LOOKUP, id);
  const row = await ctx.one(sql<RunRow>`${RUN_SELECT} WHERE r.id = ${exact}`);
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

export async function startRun(ctx: RegistryContext, input: StartRunInput): Promise<Run> {
  checkNonEmpty('run name', input.name);
  const tags = Object.entries(input.tags ?? {});
  for (const [key] of tags) checkKey('tag', key);
  const run = await ctx.write(async (tx) => {
    const experiment = await getOrCreateExperiment(tx, input.experiment);
    const parent = input.parentRunId ? await requireExactId(tx, RUN_LOOKUP, input.parentRunId) : null;
    const id = newRunId();
    const now = tx.now();
    await tx.run(
      sql`INSERT INTO runs (id, experiment_id, name, parent_run_id, status, start_time, pid, hostname, heartbeat_at, lease_expires_at)
        VALUES (${id}, ${experiment.id}, ${input.name}, ${parent}, 'RUNNING', ${now.toISOString()}, ${tx.pid},
          ${tx.hostname}, ${now.toISOString()}, ${tx.leases.expiry(now)})`,
    );
    for (const [key, value] of tags) {
      await tx.run(sql`INSERT INTO tags (run_id, key, value) VALUES (${id}, ${key}, ${value})`);
    }
    // a lock taken before its run started names the first top-level run, so an operator sees whose it is
    const tokens = tx.leases.lockTokens();
    if (parent === null && tokens.length > 0) {
      await tx.run(sql`UPDATE locks SET run_id = ${id} WHERE run_id IS NULL AND token IN (${inList(tokens)})`);
    }
    return loadRun(tx, id);
  });
  ctx.leases.holdRun(run.id);
  return run;
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
  const entries = Object.entries(params);
  for (const [key] of entries) checkKey('param', key);
  await ctx.write(async (tx) => {
    await requireExactId(tx, RUN_LOOKUP, runId);
    for (const [key, raw] of entries) {
      const value = paramText(raw);
      const old = await tx.one(
        sql<{ value: string }>`SELECT value FROM params WHERE run_id = ${runId} AND key = ${key}`,
      );
      if (old === undefined)
        await tx.run(sql`INSERT INTO params (run_id, key, value) VALUES (${runId}, ${key}, ${value})`);
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

async function insertMetrics(
  tx: RegistryContext,
  runId: string,
  entries: ReadonlyArray<[string, number]>,
  step: number,
): Promise<void> {
  await requireExactId(tx, RUN_LOOKUP, runId);
  if (entries.length === 0) return;
  const time = isoNow(tx);
  const rows = entries.map(
    ([key, value]) => sql`(${runId}, ${key}, ${Number.isNaN(value) ? null : value}, ${step}, ${time})`,
  );
  await tx.run(sql`INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES ${sql.join(rows)}`);
}

export async function logMetric(
  ctx: RegistryContext,
  runId: string,
  key: string,
  value: number,
  step = 0,
): Promise<void> {
  checkMetric(key, value, step);
  await ctx.write((tx) => insertMetrics(tx, runId, [[key, value]], step));
}

export async function logMetrics(
  ctx: RegistryContext,
  runId: string,
  metrics: Record<string, number>,
  step = 0,
): Promise<void> {
  const entries = Object.entries(metrics);
  for (const [key, value] of entries) checkMetric(key, value, step);
  await ctx.write((tx) => insertMetrics(tx, runId, entries, step));
}

export async function setTags(ctx: RegistryContext, runId: string, tags: Record<string, string>): Promise<void> {
  const entries = Object.entries(tags);
  for (const [key] of entries) checkKey('tag', key);
  await ctx.write(async (tx) => {
    await requireExactId(tx, RUN_LOOKUP, runId);
    for (const [key, value] of entries) await upsertTag(tx, runId, key, String(value));
  });
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
  await ctx.write(async (tx) => {
    await requireExactId(tx, RUN_LOOKUP, runId);
    await tx.run(
      sql`INSERT INTO artifacts (run_id, path, size, sha256, uri, created_at)
        VALUES (${runId}, ${artifact.path}, ${artifact.size}, ${artifact.sha256}, ${artifact.uri}, ${isoNow(tx)})
        ON CONFLICT (run_id, path) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256,
          uri = excluded.uri, created_at = excluded.created_at`,
    );
  });
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
  ctx.leases.dropRun(runId);
  return ctx.write(async (tx) => {
    const run = await loadRun(tx, runId);
    if (run.status !== 'RUNNING') {
      const why = run.error ? ` (${run.error})` : '';
      throw new ConflictError(`run ${runId} is already ${run.status}${why}; only a RUNNING run can be finished`);
    }
    const end = tx.now().toISOString();
    await tx.run(
      sql`UPDATE runs SET status = ${input.status}, end_time = ${end}, duration_ms = ${elapsedMs(run.startTime, new Date(end))},
          peak_rss_bytes = ${peak}, cpu_time_ms = ${cpu}, error = ${input.error ?? null},
          heartbeat_at = ${end}, lease_expires_at = NULL
        WHERE id = ${runId}`,
    );
    return loadRun(tx, runId);
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
