import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import { UsageError } from '../errors.js';
import type { RegistryContext } from './context.js';
import { findExperiment } from './experiments.js';
import { RUN_LOOKUP, resolveId } from './lookup.js';
import { RUN_SELECT, inList, toRun } from './rows.js';
import type { RunRow } from './rows.js';
import { RunQueryBuilder, SORT_COLUMNS, parseFilter, parseSort } from './run-filters.js';
import type { Field, RunFilter, RunSort } from './run-filters.js';
import { loadRunValues, presentRun } from './runs.js';
import type { ListRunsOptions, RunStatus, RunSummary } from './types.js';

const STATUSES: readonly RunStatus[] = ['RUNNING', 'FINISHED', 'FAILED'];

/** Runs a read-only registry shows as FAILED (their holder is gone) are still RUNNING in the file. */
function addStatus(ctx: RegistryContext, q: RunQueryBuilder, status: RunStatus): void {
  const stale = [...ctx.staleRuns.keys()];
  if (status === 'FINISHED') q.where.push(sql`r.status = 'FINISHED'`);
  else if (stale.length === 0) q.where.push(sql`r.status = ${status}`);
  else if (status === 'RUNNING') q.where.push(sql`r.status = 'RUNNING' AND r.id NOT IN (${inList(stale)})`);
  else q.where.push(sql`(r.status = 'FAILED' OR r.id IN (${inList(stale)}))`);
}

function whereClause(where: readonly RawBuilder<unknown>[]): RawBuilder<unknown> {
  return where.length > 0 ? sql`WHERE ${sql.join(where, sql` AND `)}` : sql``;
}

export async function listRuns(ctx: RegistryContext, opts: ListRunsOptions = {}): Promise<RunSummary[]> {
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
  if (opts.experiment !== undefined)
    q.where.push(sql`r.experiment_id = ${(await findExperiment(ctx, opts.experiment)).id}`);
  if (opts.parentRunId !== undefined) {
    q.where.push(sql`r.parent_run_id = ${await resolveId(ctx, RUN_LOOKUP, opts.parentRunId)}`);
  }
  if (opts.topLevelOnly) q.where.push(sql`r.parent_run_id IS NULL`);
  await checkKeysExist(ctx, { where: [...q.where], topLevelOnly: opts.topLevelOnly === true }, filters, sort);
  if (opts.status !== undefined) addStatus(ctx, q, opts.status);
  for (const f of filters) q.addFilter(f);
  const order = sort ? q.orderBy(sort) : sql`r.start_time DESC, r.id`;
  const limit = opts.limit !== undefined ? sql`LIMIT ${opts.limit}` : sql``;
  const query = sql<RunRow>`${RUN_SELECT} ${sql.join(q.joins, sql` `)} ${whereClause(q.where)} ORDER BY ${order} ${limit}`;
  return ctx.read(async (tx) => {
    const rows = await tx.all(query);
    return loadRunValues(
      tx,
      rows.map((row) => presentRun(tx, toRun(row))),
    );
  });
}

/** The runs a list draws from before its status and filters narrow it. */
interface Scope {
  where: RawBuilder<unknown>[];
  topLevelOnly: boolean;
}

const FIELDS: readonly Field[] = ['params', 'metrics', 'tags'];

/**
 * A filter or sort on a key that no run in scope has would silently match or order nothing, so it is
 * a usage error naming the keys that do exist (read from the registry, whatever the runs recorded).
 */
async function checkKeysExist(
  ctx: RegistryContext,
  scope: Scope,
  filters: readonly RunFilter[],
  sort: RunSort | undefined,
): Promise<void> {
  const refs: Array<{ field: Field; key: string; sort: boolean }> = filters.map((f) => ({
    field: f.field,
    key: f.key,
    sort: false,
  }));
  if (sort && sort.field !== 'column') refs.push({ field: sort.field, key: sort.key, sort: true });
  const has = async (field: Field, key: string, where = scope.where) =>
    (await ctx.one(
      sql`SELECT 1 AS one FROM ${sql.table(field)} x JOIN runs r ON r.id = x.run_id
        ${whereClause([keyMatch(field, key), ...where])} LIMIT 1`,
    )) !== undefined;
  for (const ref of refs) {
    if (await has(ref.field, ref.key)) continue;
    const anyRun = await ctx.one(sql`SELECT 1 AS one FROM runs r ${whereClause(scope.where)} LIMIT 1`);
    // With no runs in scope there is nothing to compare against: the list is empty either way.
    if (anyRun === undefined) return;
    const name = `${ref.field}.${ref.key}`;
    const hint =
      scope.topLevelOnly && (await has(ref.field, ref.key, [sql`r.parent_run_id IS NOT NULL`]))
        ? ` (only trial runs have ${name}; add --all to list them)`
        : '';
    const what = ref.sort
      ? `cannot sort runs by ${name}: no run in this list has it${hint}`
      : `no run in this list has ${name}, so no run could match${hint}`;
    throw new UsageError(`${what}; known keys: ${await knownKeys(ctx, scope, ref.sort)}`);
  }
}

/** Hyperparameters were recorded as maxDepth and later as max_depth, and filters take either: so does the check. */
function keyMatch(field: Field, key: string): RawBuilder<unknown> {
  return field === 'params'
    ? sql`replace(lower(x.key), '_', '') = replace(lower(${key}), '_', '')`
    : sql`x.key = ${key}`;
}

/** Every key some run in scope has, as a filter or sort names it, after the run columns when sorting. */
async function knownKeys(ctx: RegistryContext, scope: Scope, withColumns: boolean): Promise<string> {
  const keys: string[] = [];
  for (const field of FIELDS) {
    const rows = await ctx.all(
      sql<{ key: string }>`SELECT DISTINCT x.key FROM ${sql.table(field)} x JOIN runs r ON r.id = x.run_id
        ${whereClause(scope.where)} ORDER BY x.key`,
    );
    keys.push(...rows.map((r) => `${field}.${r.key}`));
  }
  const all = withColumns ? [...SORT_COLUMNS, ...keys] : keys;
  return all.length ? all.join(', ') : 'none';
}
