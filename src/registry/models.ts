import { NotFoundError } from '../errors.js';
import { isoNow } from './context.js';
import type { RegistryContext } from './context.js';
import { DATASET_LOOKUP, RUN_LOOKUP, requireExactId } from './lookup.js';
import type { CreateModelVersionInput, ModelSummary, ModelVersion, ModelVersionStatus, RunStatus } from './types.js';
import { checkName, checkNonEmpty, checkSha256, checkVersion } from './validate.js';

interface VersionRow {
  model: string;
  version: number;
  run_id: string;
  dataset_id: string;
  bundle_uri: string;
  bundle_sha256: string;
  engine: string;
  params_json: string;
  metrics_json: string;
  created_at: string;
  status: ModelVersionStatus;
  run_status: RunStatus;
  aliases_json: string;
}

const VERSION_SELECT = `SELECT v.model, v.version, v.run_id, v.dataset_id, v.bundle_uri, v.bundle_sha256, v.engine,
  v.params_json, v.metrics_json, v.created_at, v.status,
  (SELECT r.status FROM runs r WHERE r.id = v.run_id) AS run_status,
  (SELECT json_group_array(alias) FROM (SELECT a.alias FROM aliases a
     WHERE a.model = v.model AND a.version = v.version ORDER BY a.alias)) AS aliases_json
  FROM model_versions v`;

/** JSON has no NaN: metrics stored as null come back as NaN, like run metrics. */
function parseMetrics(json: string): Record<string, number> {
  const raw = JSON.parse(json) as Record<string, number | null>;
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(raw)) out[key] = value === null ? Number.NaN : value;
  return out;
}

function toVersion(row: VersionRow): ModelVersion {
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
    aliases: JSON.parse(row.aliases_json) as string[],
  };
}

export function requireModel(ctx: RegistryContext, model: string): void {
  const row = ctx.stmt<{ name: string }>('SELECT name FROM registered_models WHERE name = ?').get(model);
  if (!row) throw new NotFoundError(`model ${model} not found; list models with 'rainops models list'`);
}

export function requireVersion(ctx: RegistryContext, model: string, version: number): void {
  requireModel(ctx, model);
  const row = ctx
    .stmt<{ version: number }>('SELECT version FROM model_versions WHERE model = ? AND version = ?')
    .get(model, version);
  if (!row) {
    throw new NotFoundError(
      `model ${model} has no version ${version}; list its versions with 'rainops models show ${model}'`,
    );
  }
}

/** Numbers the new version max + 1 under the write lock, so concurrent processes never share a number. */
export function createModelVersion(
  ctx: RegistryContext,
  input: CreateModelVersionInput,
): { model: string; version: number } {
  checkName('model', input.model);
  checkNonEmpty('bundle uri', input.bundleUri);
  checkNonEmpty('engine', input.engine);
  checkSha256(`bundle sha256 of model ${input.model}`, input.bundleSha256);
  const params = JSON.stringify(input.params);
  const metrics = JSON.stringify(input.metrics);
  return ctx.write(() => {
    requireExactId(ctx, RUN_LOOKUP, input.runId);
    requireExactId(ctx, DATASET_LOOKUP, input.datasetId);
    const now = isoNow(ctx);
    ctx.stmt('INSERT OR IGNORE INTO registered_models (name, created_at) VALUES (?, ?)').run(input.model, now);
    const max = ctx
      .stmt<{ v: number }>('SELECT coalesce(max(version), 0) AS v FROM model_versions WHERE model = ?')
      .get(input.model);
    const version = (max?.v ?? 0) + 1;
    ctx
      .stmt(
        `INSERT INTO model_versions (model, version, run_id, dataset_id, bundle_uri, bundle_sha256, engine,
           params_json, metrics_json, created_at, status)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        input.model,
        version,
        input.runId,
        input.datasetId,
        input.bundleUri,
        input.bundleSha256,
        input.engine,
        params,
        metrics,
        now,
        input.status ?? 'READY',
      );
    return { model: input.model, version };
  });
}

export function getModelVersion(ctx: RegistryContext, model: string, version: number): ModelVersion {
  checkVersion(version);
  const row = ctx.stmt<VersionRow>(`${VERSION_SELECT} WHERE v.model = ? AND v.version = ?`).get(model, version);
  if (row) return toVersion(row);
  requireVersion(ctx, model, version);
  throw new Error(`model ${model} version ${version} vanished while it was read`);
}

/** Newest version first. */
export function listModelVersions(ctx: RegistryContext, model: string): ModelVersion[] {
  requireModel(ctx, model);
  return ctx.stmt<VersionRow>(`${VERSION_SELECT} WHERE v.model = ? ORDER BY v.version DESC`).all(model).map(toVersion);
}

export function getModelVersionByAlias(ctx: RegistryContext, model: string, alias: string): ModelVersion | null {
  const row = ctx
    .stmt<VersionRow>(`${VERSION_SELECT} JOIN aliases al ON al.model = v.model AND al.version = v.version
      WHERE al.model = ? AND al.alias = ?`)
    .get(model, alias);
  return row ? toVersion(row) : null;
}

export function listModels(ctx: RegistryContext): ModelSummary[] {
  const rows = ctx
    .stmt<{ name: string; description: string; created_at: string; latest: number | null; aliases_json: string }>(
      `SELECT m.name, m.description, m.created_at,
         (SELECT max(version) FROM model_versions v WHERE v.model = m.name) AS latest,
         (SELECT json_group_object(alias, version) FROM
            (SELECT a.alias, a.version FROM aliases a WHERE a.model = m.name ORDER BY a.alias)) AS aliases_json
       FROM registered_models m ORDER BY m.name`,
    )
    .all();
  return rows.map((row) => ({
    name: row.name,
    description: row.description,
    createdAt: row.created_at,
    latestVersion: row.latest,
    aliases: JSON.parse(row.aliases_json) as Record<string, number>,
  }));
}
