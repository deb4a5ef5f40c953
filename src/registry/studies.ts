import { sql } from 'kysely';
import { ConflictError, UsageError } from '../errors.js';
import type { RegistryContext } from './context.js';
import { isoNow } from './context.js';
import { reapDeadRuns } from './runs.js';
import type { RegistryTables } from './schema.js';
import type {
  ClaimedTrial,
  FinishClaim,
  OpenStudyInput,
  Study,
  StudyState,
  StudyTrial,
  TrialOutcome,
  TrialState,
} from './types.js';
import { checkNonEmpty } from './validate.js';

/**
 * Studies: one search whose trials many workers (processes, hosts) share. A claim on a trial or on finishing the
 * study names the claiming worker's run and holds while that run is RUNNING; the run's lease (renewed by the
 * heartbeat) is therefore the claim's lease, and a worker that died loses its claims once its run is reaped.
 */

type StudyRow = RegistryTables['studies'];
type TrialRow = RegistryTables['study_trials'];

const STUDY_SELECT = sql`SELECT name, settings_json, trials, state, created_at, created_by_run_id, finisher_run_id,
  result_json, finished_at FROM studies`;
const TRIAL_SELECT = sql`SELECT study, idx, payload_json, state, attempts, worker_run_id, hostname, claimed_at, run_id,
  score, error, ended_at FROM study_trials`;

/** Whether a claim by `column` (a worker run) lapsed: that run is no longer RUNNING. */
const lapsed = (column: string) =>
  sql`NOT EXISTS (SELECT 1 FROM runs w WHERE w.id = ${sql.ref(column)} AND w.status = 'RUNNING')`;

async function trialCounts(ctx: RegistryContext, name: string): Promise<Record<TrialState, number>> {
  const rows = await ctx.all(
    sql<{ state: TrialState; n: number }>`SELECT state, count(*) AS n FROM study_trials WHERE study = ${name}
      GROUP BY state`,
  );
  const counts: Record<TrialState, number> = { PENDING: 0, RUNNING: 0, DONE: 0, FAILED: 0 };
  for (const r of rows) counts[r.state] = Number(r.n);
  return counts;
}

async function toStudy(ctx: RegistryContext, row: StudyRow): Promise<Study> {
  return {
    name: row.name,
    settings: JSON.parse(row.settings_json) as Record<string, string>,
    trials: Number(row.trials),
    state: row.state as StudyState,
    createdAt: row.created_at,
    createdByRunId: row.created_by_run_id,
    finisherRunId: row.finisher_run_id,
    result: row.result_json,
    finishedAt: row.finished_at,
    counts: await trialCounts(ctx, row.name),
  };
}

function toTrial(row: TrialRow): StudyTrial {
  return {
    study: row.study,
    index: Number(row.idx),
    payload: row.payload_json,
    state: row.state as TrialState,
    attempts: Number(row.attempts),
    workerRunId: row.worker_run_id,
    hostname: row.hostname,
    claimedAt: row.claimed_at,
    runId: row.run_id,
    score: row.score === null ? null : Number(row.score),
    error: row.error,
    endedAt: row.ended_at,
  };
}

export async function getStudy(ctx: RegistryContext, name: string): Promise<Study | null> {
  return ctx.read(async (tx) => {
    const row = await tx.one(sql<StudyRow>`${STUDY_SELECT} WHERE name = ${name}`);
    return row ? toStudy(tx, row) : null;
  });
}

export async function listStudyTrials(ctx: RegistryContext, name: string): Promise<StudyTrial[]> {
  return (await ctx.all(sql<TrialRow>`${TRIAL_SELECT} WHERE study = ${name} ORDER BY idx`)).map(toTrial);
}

/** Creates the study with its trials, or returns the one of that name as it is: `created` says which. */
export async function openStudy(
  ctx: RegistryContext,
  input: OpenStudyInput,
): Promise<{ study: Study; created: boolean }> {
  checkNonEmpty('study name', input.name);
  return ctx.write(async (tx) => {
    const old = await tx.one(sql<StudyRow>`${STUDY_SELECT} WHERE name = ${input.name}`);
    if (old) return { study: await toStudy(tx, old), created: false };
    if (input.payloads.length === 0) throw new UsageError(`study ${input.name} needs at least one trial`);
    await tx.run(
      sql`INSERT INTO studies (name, settings_json, trials, created_at, created_by_run_id)
        VALUES (${input.name}, ${JSON.stringify(input.settings)}, ${input.payloads.length}, ${isoNow(tx)}, ${input.runId})`,
    );
    for (const [idx, payload] of input.payloads.entries()) {
      await tx.run(sql`INSERT INTO study_trials (study, idx, payload_json) VALUES (${input.name}, ${idx}, ${payload})`);
    }
    const row = await tx.one(sql<StudyRow>`${STUDY_SELECT} WHERE name = ${input.name}`);
    return { study: await toStudy(tx, row!), created: true };
  });
}

/**
 * Claims the first trial nobody holds (PENDING, or RUNNING for a worker whose run ended) for `workerRunId`, in one
 * write transaction (on PostgreSQL the row is also taken FOR UPDATE SKIP LOCKED); null when there is none.
 */
export async function claimTrial(
  ctx: RegistryContext,
  name: string,
  workerRunId: string,
): Promise<ClaimedTrial | null> {
  // a dead worker's run is failed first, which frees its claims
  await reapDeadRuns(ctx);
  return ctx.write(async (tx) => {
    await requireLiveWorker(tx, workerRunId);
    const row = await tx.one(
      sql<{ idx: number; payload_json: string; attempts: number }>`SELECT idx, payload_json, attempts
        FROM study_trials t
        WHERE t.study = ${name} AND (t.state = 'PENDING' OR (t.state = 'RUNNING' AND ${lapsed('t.worker_run_id')}))
        ORDER BY t.idx LIMIT 1${sql.raw(tx.conn.claimRows)}`,
    );
    if (!row) return null;
    await tx.run(
      sql`UPDATE study_trials SET state = 'RUNNING', attempts = attempts + 1, worker_run_id = ${workerRunId},
        hostname = ${tx.hostname}, claimed_at = ${isoNow(tx)}, run_id = NULL, score = NULL, error = NULL,
        ended_at = NULL
        WHERE study = ${name} AND idx = ${row.idx}`,
    );
    return { index: Number(row.idx), payload: row.payload_json, attempt: Number(row.attempts) + 1 };
  });
}

/** A claim names a RUNNING run: one that already ended would hand the claim to the next worker at once. */
async function requireLiveWorker(tx: RegistryContext, workerRunId: string): Promise<void> {
  const run = await tx.one(
    sql<{ status: string; error: string | null }>`SELECT status, error FROM runs WHERE id = ${workerRunId}`,
  );
  if (run?.status === 'RUNNING') return;
  throw new ConflictError(
    `worker run ${workerRunId} is ${run ? `${run.status}${run.error ? ` (${run.error})` : ''}` : 'not in the registry'}, so it can no longer claim work in a study; start the worker again to rejoin`,
  );
}

/** Records how a claimed trial ended; false when the claim was lost meanwhile (the worker was presumed dead). */
export async function settleTrial(
  ctx: RegistryContext,
  name: string,
  index: number,
  workerRunId: string,
  outcome: TrialOutcome,
): Promise<boolean> {
  const changed = await ctx.write((tx) =>
    tx.run(
      sql`UPDATE study_trials SET state = ${outcome.state}, run_id = ${outcome.runId}, score = ${outcome.score ?? null},
        error = ${outcome.error ?? null}, ended_at = ${isoNow(tx)}
        WHERE study = ${name} AND idx = ${index} AND state = 'RUNNING' AND worker_run_id = ${workerRunId}`,
    ),
  );
  return changed === 1;
}

/**
 * Claims the finishing of the study for `workerRunId` once every trial ended: only one worker gets `mine`; a
 * finisher whose run ended loses the claim to the next worker that asks.
 */
export async function claimStudyFinish(ctx: RegistryContext, name: string, workerRunId: string): Promise<FinishClaim> {
  await reapDeadRuns(ctx);
  return ctx.write(async (tx) => {
    const row = await tx.one(sql<StudyRow>`${STUDY_SELECT} WHERE name = ${name}`);
    if (!row) throw new UsageError(`there is no study named '${name}'`);
    if (row.state === 'DONE') return { kind: 'done', result: row.result_json };
    const counts = await trialCounts(tx, name);
    const open = counts.PENDING + counts.RUNNING;
    if (open > 0) return { kind: 'wait', reason: `${open} of ${row.trials} trials have not ended` };
    await requireLiveWorker(tx, workerRunId);
    if (row.state === 'FINISHING' && row.finisher_run_id !== workerRunId) {
      const live = await tx.one(
        sql<{ id: string }>`SELECT id FROM runs WHERE id = ${row.finisher_run_id} AND status = 'RUNNING'`,
      );
      if (live) return { kind: 'wait', reason: `run ${row.finisher_run_id} is finishing the study` };
    }
    await tx.run(sql`UPDATE studies SET state = 'FINISHING', finisher_run_id = ${workerRunId} WHERE name = ${name}`);
    return { kind: 'mine' };
  });
}

/** Records the study's outcome; false when this worker no longer holds the finishing claim. */
export async function finishStudy(
  ctx: RegistryContext,
  name: string,
  workerRunId: string,
  result: string,
): Promise<boolean> {
  const changed = await ctx.write((tx) =>
    tx.run(
      sql`UPDATE studies SET state = 'DONE', result_json = ${result}, finished_at = ${isoNow(tx)}
        WHERE name = ${name} AND state = 'FINISHING' AND finisher_run_id = ${workerRunId}`,
    ),
  );
  return changed === 1;
}
