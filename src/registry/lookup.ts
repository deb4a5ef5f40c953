import { sql } from 'kysely';
import { NotFoundError, UsageError } from '../errors.js';
import type { RegistryContext } from './context.js';
import { shortList } from './validate.js';

interface LookupSpec {
  table: 'runs' | 'datasets';
  noun: string;
  listHint: string;
}

export const RUN_LOOKUP: LookupSpec = {
  table: 'runs',
  noun: 'run',
  listHint: "list runs with 'rainops runs list'",
};

export const DATASET_LOOKUP: LookupSpec = {
  table: 'datasets',
  noun: 'data set',
  listHint: "list data sets with 'rainops datasets list'",
};

function exactId(ctx: RegistryContext, spec: LookupSpec, id: string): Promise<{ id: string } | undefined> {
  return ctx.one(sql<{ id: string }>`SELECT id FROM ${sql.table(spec.table)} WHERE id = ${id}`);
}

/** The full id for an exact id or a unique prefix of one. */
export async function resolveId(ctx: RegistryContext, spec: LookupSpec, idOrPrefix: string): Promise<string> {
  const wanted = spec.table === 'runs' ? idOrPrefix.trim().toLowerCase() : idOrPrefix.trim();
  if (wanted === '') throw new UsageError(`give a ${spec.noun} id or the first characters of one`);
  const exact = await exactId(ctx, spec, wanted);
  if (exact) return exact.id;
  const matches = (
    await ctx.all(
      sql<{ id: string }>`SELECT id FROM ${sql.table(spec.table)}
        WHERE substr(id, 1, ${wanted.length}) = ${wanted} ORDER BY id LIMIT 6`,
    )
  ).map((r) => r.id);
  const [only] = matches;
  if (only !== undefined && matches.length === 1) return only;
  if (matches.length > 1) {
    throw new UsageError(
      `${spec.noun} id prefix '${idOrPrefix}' matches ${matches.length > 5 ? 'more than 5' : matches.length} ${spec.noun}s (${shortList(matches)}); give more characters`,
    );
  }
  throw new NotFoundError(`${spec.noun} ${idOrPrefix} not found; ${spec.listHint}`);
}

/** What a write says when the exact id it was given does not exist. */
export function notFound(spec: LookupSpec, id: string): NotFoundError {
  return new NotFoundError(`${spec.noun} ${id} not found; ${spec.listHint}`);
}

/** The id itself when it exists exactly (writes never guess from a prefix). */
export async function requireExactId(ctx: RegistryContext, spec: LookupSpec, id: string): Promise<string> {
  const row = await exactId(ctx, spec, id);
  if (!row) throw notFound(spec, id);
  return row.id;
}
