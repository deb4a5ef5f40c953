import { UsageError } from '../errors.js';
import type { RegistryContext } from './context.js';
import { findExperiment } from './experiments.js';
import { RUN_LOOKUP, resolveId } from './lookup.js';
import { RUN_SELECT, toRun } from './rows.js';
import type { RunRow } from './rows.js';
import { RunQueryBuilder, SORT_COLUMNS, parseFilter, parseSort } from './run-filters.js';
import type { Field, RunFilter, RunSort } from './run-filters.js';
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
  checkKeysExist(
    ctx,
    { where: [...q.where], params: [...q.whereParams], topLevelOnly: opts.topLevelOnly === true },
    filters,
    sort,
  );
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
      return loadRunValues(
        ctx,
        rows.map((row) => presentRun(ctx, toRun(row))),
      );
    })
    .deferred();
}

/** The runs a list draws from before its status and filters narrow it. */
interface Scope {
  where: string[];
  params: unknown[];
  topLevelOnly: boolean;
}

const FIELDS: readonly Field[] = ['params', 'metrics', 'tags'];

/**
 * A filter or sort on a key that no run in scope has would silently match or order nothing, so it is
 * a usage error naming the keys that do exist (read from the registry, whatever the runs recorded).
 */
function checkKeysExist(
  ctx: RegistryContext,
  scope: Scope,
  filters: readonly RunFilter[],
  sort: RunSort | undefined,
): void {
  const refs: Array<{ field: Field; key: string; sort: boolean }> = filters.map((f) => ({
    field: f.field,
    key: f.key,
    sort: false,
  }));
  if (sort && sort.field !== 'column') refs.push({ field: sort.field, key: sort.key, sort: true });
  const cond = scope.where.length ? `AND ${scope.where.join(' AND ')}` : '';
  const has = (field: Field, key: string, where = cond, params = scope.params) =>
    ctx.db
      .prepare(`SELECT 1 FROM ${field} x JOIN runs r ON r.id = x.run_id WHERE ${keyMatch(field)} ${where} LIMIT 1`)
      .get(key, ...params) !== undefined;
  for (const ref of refs) {
    if (has(ref.field, ref.key)) continue;
    const anyRun = ctx.db
      .prepare(`SELECT 1 FROM runs r ${scope.where.length ? `WHERE ${scope.where.join(' AND ')}` : ''} LIMIT 1`)
      .get(...scope.params);
    // With no runs in scope there is nothing to compare against: the list is empty either way.
    if (anyRun === undefined) return;
    const name = `${ref.field}.${ref.key}`;
    const hint =
      scope.topLevelOnly && has(ref.field, ref.key, 'AND r.parent_run_id IS NOT NULL', [])
        ? ` (only trial runs have ${name}; add --all to list them)`
        : '';
    const what = ref.sort
      ? `cannot sort runs by ${name}: no run in this list has it${hint}`
      : `no run in this list has ${name}, so no run could match${hint}`;
    throw new UsageError(`${what}; known keys: ${knownKeys(ctx, scope, cond, ref.sort)}`);
  }
}

/** Hyperparameters were recorded as maxDepth and later as max_depth, and filters take either: so does the check. */
function keyMatch(field: Field): string {
  return field === 'params' ? "replace(lower(x.key), '_', '') = replace(lower(?), '_', '')" : 'x.key = ?';
}

/** Every key some run in scope has, as a filter or sort names it, after the run columns when sorting. */
function knownKeys(ctx: RegistryContext, scope: Scope, cond: string, withColumns: boolean): string {
  const keys = FIELDS.flatMap((field) =>
    ctx.db
      .prepare<unknown[], { key: string }>(
        `SELECT DISTINCT x.key FROM ${field} x JOIN runs r ON r.id = x.run_id WHERE 1 = 1 ${cond} ORDER BY x.key`,
      )
      .all(...scope.params)
      .map((r) => `${field}.${r.key}`),
  );
  const all = withColumns ? [...SORT_COLUMNS, ...keys] : keys;
  return all.length ? all.join(', ') : 'none';
}
