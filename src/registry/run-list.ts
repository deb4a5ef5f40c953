import { UsageError } from '../core/errors.js';
import type { RegistryContext } from './context.js';
import { findExperiment } from './experiments.js';
import { RUN_LOOKUP, resolveId } from './lookup.js';
import { RUN_SELECT, toRun } from './rows.js';
import type { RunRow } from './rows.js';
import { RunQueryBuilder, parseFilter, parseSort } from './run-filters.js';
import { loadRunValues, presentRun } from './runs.js';
import type { ListRunsOptions, RunStatus, RunSummary } from './types.js';

const STATUSES: readonly RunStatus[] = ['RUNNING', 'FINISHED', 'FAILED'];

/** Runs a read-only registry shows as FAILED (their holder is gone) are still RUNNING in the file. */
function addStatus(ctx: RegistryContext, q: RunQueryBuilder, status: RunStatus): void {
  const stale = JSON.stringify([...ctx.staleRuns.keys()]);
  if (status === 'RUNNING') q.where.push("r.status = 'RUNNING' AND r.id NOT IN (SELECT value FROM json_each(?))");
  else if (status === 'FAILED') q.where.push("(r.status = 'FAILED' OR r.id IN (SELECT value FROM json_each(?)))");
  else return void q.where.push("r.status = 'FINISHED'");
  q.whereParams.push(stale);
}

export function listRuns(ctx: RegistryContext, opts: ListRunsOptions = {}): RunSummary[] {
  if (opts.parentRunId !== undefined && opts.topLevelOnly) {
    throw new UsageError('list either the children of one run or only top-level runs, not both');
  }
  if (opts.status !== undefined && !STATUSES.includes(opts.status)) {
    throw new UsageError(`run status must be one of ${STATUSES.join(', ')}, not ${String(opts.status)}`);
  }
  if (opts.limit !== undefined && (!Number.isSafeInteger(opts.limit) || opts.limit < 1)) {
    throw new UsageError(`the run limit must be a whole number of at least 1, not ${opts.limit}`);
  }
  const filters = (opts.filters ?? []).map(parseFilter);
  const sort = opts.sort === undefined ? undefined : parseSort(opts.sort);

  const q = new RunQueryBuilder();
  if (opts.experiment !== undefined) {
    q.where.push('r.experiment_id = ?');
    q.whereParams.push(findExperiment(ctx, opts.experiment).id);
  }
  if (opts.parentRunId !== undefined) {
    q.where.push('r.parent_run_id = ?');
    q.whereParams.push(resolveId(ctx, RUN_LOOKUP, opts.parentRunId));
  }
  if (opts.topLevelOnly) q.where.push('r.parent_run_id IS NULL');
  if (opts.status !== undefined) addStatus(ctx, q, opts.status);
  for (const f of filters) q.addFilter(f);
  const order = sort ? q.orderBy(sort) : 'r.start_time DESC, r.id';

  const sql = [
    RUN_SELECT,
    ...q.joins,
    q.where.length > 0 ? `WHERE ${q.where.join(' AND ')}` : '',
    `ORDER BY ${order}`,
    opts.limit !== undefined ? 'LIMIT ?' : '',
  ].join('\n');
  const params = [...q.joinParams, ...q.whereParams, ...(opts.limit !== undefined ? [opts.limit] : [])];
  return ctx.db
    .transaction(() => {
      // filters make each query text unique, so it is prepared here rather than cached
      const rows = ctx.db.prepare<unknown[], RunRow>(sql).all(...params);
      return loadRunValues(ctx, rows.map((row) => presentRun(ctx, toRun(row))));
    })
    .deferred();
}
