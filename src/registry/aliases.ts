import { sql } from 'kysely';
import { ConflictError, NotFoundError, UsageError } from '../errors.js';
import { isoNow } from './context.js';
import type { RegistryContext } from './context.js';
import { requireModel, requireVersion } from './models.js';
import type { AliasChange, AliasHistoryEntry, DeleteAliasInput, SetAliasInput } from './types.js';
import { checkName, checkNonEmpty, checkVersion } from './validate.js';
import type { RegistryTables } from './schema.js';

function label(version: number | null): string {
  return version === null ? 'unset' : `v${version}`;
}

export async function getAlias(ctx: RegistryContext, model: string, alias: string): Promise<number | null> {
  const row = await ctx.one(
    sql<{ version: number }>`SELECT version FROM aliases WHERE model = ${model} AND alias = ${alias}`,
  );
  return row ? row.version : null;
}

function checkExpected(
  model: string,
  alias: string,
  expected: number | null | undefined,
  current: number | null,
  outcome: string,
): void {
  if (expected === undefined || expected === current) return;
  let what: string;
  if (expected === null) what = `was set to ${label(current)}`;
  else if (current === null) what = `was removed (it pointed at v${expected})`;
  else what = `moved from v${expected} to v${current}`;
  throw new ConflictError(`alias ${alias} of ${model} ${what} while this ran; ${outcome}`);
}

function checkMove(input: { model: string; alias: string; expected?: number | null | undefined; actor: string }): void {
  checkName('alias', input.alias);
  checkNonEmpty('actor of an alias move', input.actor);
  if (input.expected !== undefined && input.expected !== null) checkVersion(input.expected);
}

async function record(
  tx: RegistryContext,
  input: { model: string; alias: string; actor: string; reason: string },
  from: number | null,
  to: number | null,
): Promise<void> {
  await tx.run(
    sql`INSERT INTO alias_history (model, alias, from_version, to_version, actor, reason, time)
      VALUES (${input.model}, ${input.alias}, ${from}, ${to}, ${input.actor}, ${input.reason}, ${isoNow(tx)})`,
  );
  // In the same transaction: listeners hear of the move only if it commits, and only once it has.
  const notify = tx.conn.notifyAlias;
  if (notify) await tx.run(notify(JSON.stringify({ model: input.model, alias: input.alias, version: to })));
}

/**
 * Compare-and-set: with `expected` given, the move happens only if the alias still points where the caller saw it.
 * The read, the move and its history row are one transaction under the registry's write lock, so of two
 * processes (on any hosts) racing from the same `expected`, the second sees the first's move and fails.
 */
export async function setAlias(ctx: RegistryContext, input: SetAliasInput): Promise<AliasChange> {
  checkMove(input);
  checkVersion(input.version);
  return ctx.write(async (tx) => {
    await requireVersion(tx, input.model, input.version);
    const current = await getAlias(tx, input.model, input.alias);
    checkExpected(input.model, input.alias, input.expected, current, 'nothing was promoted');
    const base = { model: input.model, alias: input.alias, fromVersion: current, toVersion: input.version };
    if (current === input.version) return { ...base, changed: false };
    await tx.run(
      sql`INSERT INTO aliases (model, alias, version) VALUES (${input.model}, ${input.alias}, ${input.version})
        ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version`,
    );
    await record(tx, input, current, input.version);
    return { ...base, changed: true };
  });
}

export async function deleteAlias(ctx: RegistryContext, input: DeleteAliasInput): Promise<AliasChange> {
  checkMove(input);
  return ctx.write(async (tx) => {
    await requireModel(tx, input.model);
    const current = await getAlias(tx, input.model, input.alias);
    checkExpected(input.model, input.alias, input.expected, current, 'nothing was removed');
    if (current === null) {
      throw new NotFoundError(
        `model ${input.model} has no alias ${input.alias}; see its aliases with 'rainops models show ${input.model}'`,
      );
    }
    await tx.run(sql`DELETE FROM aliases WHERE model = ${input.model} AND alias = ${input.alias}`);
    await record(tx, input, current, null);
    return { model: input.model, alias: input.alias, fromVersion: current, toVersion: null, changed: true };
  });
}

type HistoryRow = Omit<RegistryTables['alias_history'], 'id'> & { id: number };

const HISTORY_SELECT = sql`SELECT id, model, alias, from_version, to_version, actor, reason, time FROM alias_history`;

/** Every move of one alias (or of all the model's aliases), oldest first. */
export async function aliasHistory(ctx: RegistryContext, model: string, alias?: string): Promise<AliasHistoryEntry[]> {
  const rows = await ctx.all(
    alias === undefined
      ? sql<HistoryRow>`${HISTORY_SELECT} WHERE model = ${model} ORDER BY id`
      : sql<HistoryRow>`${HISTORY_SELECT} WHERE model = ${model} AND alias = ${alias} ORDER BY id`,
  );
  return rows.map((r) => ({
    id: r.id,
    model: r.model,
    alias: r.alias,
    fromVersion: r.from_version,
    toVersion: r.to_version,
    actor: r.actor,
    reason: r.reason,
    time: r.time,
  }));
}

/** Where the alias pointed before its latest move (what a rollback returns to); null when there is none. */
export async function previousAliasTarget(ctx: RegistryContext, model: string, alias: string): Promise<number | null> {
  if (alias.trim() === '') throw new UsageError('give the alias to look up, e.g. prod_best');
  const row = await ctx.one(
    sql<{ from_version: number | null }>`SELECT from_version FROM alias_history
      WHERE model = ${model} AND alias = ${alias} ORDER BY id DESC LIMIT 1`,
  );
  return row ? row.from_version : null;
}
