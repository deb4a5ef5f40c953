import { sql } from 'kysely';
import { NotFoundError } from '../errors.js';
import { isoNow } from './context.js';
import type { RegistryContext } from './context.js';
import { DATASET_LOOKUP, RUN_LOOKUP, requireExactId } from './lookup.js';
import type { CreateModelVersionInput, ModelSummary, ModelVersion, ModelVersionStatus, RunStatus } from './types.js';
import { checkName, checkNonEmpty, checkSha256, checkVersion } from './validate.js';
import type { RegistryTables } from './schema.js';

interface VersionRow extends Omit<RegistryTables['model_versions'], 'status'> {
  status: ModelVersionStatus;
  run_status: RunStatus;
}

const VERSION_SELECT = sql`SELECT v.model, v.version, v.run_id, v.dataset_id, v.bundle_uri, v.bundle_sha256, v.engine,
  v.params_json, v.metrics_json, v.created_at, v.status,
  (SELECT r.status FROM runs r WHERE r.id = v.run_id) AS run_status
  FROM model_versions v`;

/** JSON has no NaN: metrics stored as null come back as NaN, like run metrics. */
function parseMetrics(json: string): Record<string, number> {
  const raw = JSON.parse(json) as Record<string, number | null>;
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(raw)) out[key] = value === null ? Number.NaN : value;
  return out;
}

function toVersion(row: VersionRow, aliases: string[]): ModelVersion {
  return {
    model: row.model,
    version: row.version,
    runId: row.run_id,
    datasetId: row.dataset_id,
    bundleUri: row.bundle_uri,
    bundleSha256: row.bundle_sha256,
    engine: row.engine,
    params: JSON.parse(row.params_json) as Record<string, unknown>,
    metrics: parseMetrics(row.metrics_json),
    createdAt: row.created_at,
    status: row.status,
    runStatus: row.run_status,
    aliases,
  };
}

/** The rows with the aliases that point at each, sorted, read in one more query. */
async function withAliases(ctx: RegistryContext, model: string, rows: VersionRow[]): Promise<ModelVersion[]> {
  if (rows.length === 0) return [];
  const aliases = await ctx.all(
    sql<{ alias: string; version: number }>`SELECT alias, version FROM aliases WHERE model = ${model} ORDER BY alias`,
  );
  return rows.map((row) =>
    toVersion(
      row,
      aliases.filter((a) => a.version === row.version).map((a) => a.alias),
    ),
  );
}

export async function requireModel(ctx: RegistryContext, model: string): Promise<void> {
  const row = await ctx.one(sql<{ name: string }>`SELECT name FROM registered_models WHERE name = ${model}`);
  if (!row) throw new NotFoundError(`model ${model} not found; list models with 'rainops models list'`);
}

export async function requireVersion(ctx: RegistryContext, model: string, version: number): Promise<void> {
  await requireModel(ctx, model);
  const row = await ctx.one(
    sql<{ version: number }>`SELECT version FROM model_versions WHERE model = ${model} AND version = ${version}`,
  );
  if (!row) {
    throw new NotFoundError(
      `model ${model} has no version ${version}; list its versions with 'rainops models show ${model}'`,
    );
  }
}

/** Numbers the new version max + 1 under the write lock, so concurrent processes never share a number. */
export async function createModelVersion(
  ctx: RegistryContext,
  input: CreateModelVersionInput,
): Promise<{ model: string; version: number }> {
  checkName('model', input.model);
  checkNonEmpty('bundle uri', input.bundleUri);
  checkNonEmpty('engine', input.engine);
  checkSha256(`bundle sha256 of model ${input.model}`, input.bundleSha256);
  const params = JSON.stringify(input.params);
  const metrics = JSON.stringify(input.metrics);
  return ctx.write(async (tx) => {
    await requireExactId(tx, RUN_LOOKUP, input.runId);
    await requireExactId(tx, DATASET_LOOKUP, input.datasetId);
    const now = isoNow(tx);
    await tx.run(
      sql`INSERT INTO registered_models (name, created_at) VALUES (${input.model}, ${now}) ON CONFLICT (name) DO NOTHING`,
    );
    const max = await tx.one(
      sql<{ v: number }>`SELECT coalesce(max(version), 0) AS v FROM model_versions WHERE model = ${input.model}`,
    );
    const version = (max?.v ?? 0) + 1;
    await tx.run(
      sql`INSERT INTO model_versions (model, version, run_id, dataset_id, bundle_uri, bundle_sha256, engine,
          params_json, metrics_json, created_at, status)
        VALUES (${input.model}, ${version}, ${input.runId}, ${input.datasetId}, ${input.bundleUri},
          ${input.bundleSha256}, ${input.engine}, ${params}, ${metrics}, ${now}, ${input.status ?? 'READY'})`,
    );
    return { model: input.model, version };
  });
}

export async function getModelVersion(ctx: RegistryContext, model: string, version: number): Promise<ModelVersion> {
  checkVersion(version);
  const row = await ctx.one(sql<VersionRow>`${VERSION_SELECT} WHERE v.model = ${model} AND v.version = ${version}`);
  if (row) return (await withAliases(ctx, model, [row]))[0]!;
  await requireVersion(ctx, model, version);
  throw new Error(`model ${model} version ${version} vanished while it was read`);
}

/** Newest version first. */
export async function listModelVersions(ctx: RegistryContext, model: string): Promise<ModelVersion[]> {
  await requireModel(ctx, model);
  const rows = await ctx.all(sql<VersionRow>`${VERSION_SELECT} WHERE v.model = ${model} ORDER BY v.version DESC`);
  return withAliases(ctx, model, rows);
}

export async function getModelVersionByAlias(
  ctx: RegistryContext,
  model: string,
  alias: string,
): Promise<ModelVersion | null> {
  const row = await ctx.one(
    sql<VersionRow>`${VERSION_SELECT} JOIN aliases al ON al.model = v.model AND al.version = v.version
      WHERE al.model = ${model} AND al.alias = ${alias}`,
  );
  return row ? ((await withAliases(ctx, model, [row]))[0] ?? null) : null;
}

export async function listModels(ctx: RegistryContext): Promise<ModelSummary[]> {
  const rows = await ctx.all(
    sql<{ name: string; description: string; created_at: string; latest: number | null }>`SELECT m.name,
       m.description, m.created_at, (SELECT max(version) FROM model_versions v WHERE v.model = m.name) AS latest
     FROM registered_models m ORDER BY m.name`,
  );
  const aliases = await ctx.all(
    sql<{ model: string; alias: string; version: number }>`SELECT model, alias, version FROM aliases ORDER BY alias`,
  );
  return rows.map((row) => ({
    name: row.name,
    description: row.description,
    createdAt: row.created_at,
    latestVersion: row.latest,
    aliases: Object.fromEntries(aliases.filter((a) => a.model === row.name).map((a) => [a.alias, a.version])),
  }));
}
