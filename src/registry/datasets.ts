import { UsageError } from '../errors.js';
import { isoNow } from './context.js';
import type { RegistryContext } from './context.js';
import { DATASET_LOOKUP, RUN_LOOKUP, requireExactId, resolveId } from './lookup.js';
import { DATASET_SELECT, RUN_COLUMNS, RUN_FROM, toDataset, toRun } from './rows.js';
import { presentRun } from './runs.js';
import type { DatasetRow, RunRow } from './rows.js';
import type { Dataset, DatasetInput, DatasetRole, Run } from './types.js';
import { checkCount, checkNonEmpty, checkSha256 } from './validate.js';

function checkDatasetInput(input: DatasetInput): void {
  checkNonEmpty('data set id', input.id);
  checkNonEmpty('data set source', input.source);
  checkNonEmpty('data set uri', input.uri);
  checkSha256(`source sha256 of data set ${input.id}`, input.sourceSha256);
  checkSha256(`manifest sha256 of data set ${input.id}`, input.manifestSha256);
  for (const [name, value] of Object.entries(input.rows)) checkCount(`data set ${input.id} rows.${name}`, value);
}

function loadDataset(ctx: RegistryContext, id: string): Dataset | null {
  const row = ctx.stmt<DatasetRow>(`${DATASET_SELECT} WHERE d.id = ?`).get(id);
  return row ? toDataset(row) : null;
}

/** Data set versions are immutable: registering an id that exists returns the stored record unchanged. */
export function registerDataset(ctx: RegistryContext, input: DatasetInput): Dataset {
  checkDatasetInput(input);
  return ctx.write(() => {
    const existing = loadDataset(ctx, input.id);
    if (existing) return existing;
    ctx
      .stmt(
        `INSERT INTO datasets (id, source, source_sha256, created_at, rows_raw, rows_rejected, rows_dropped,
           rows_train, rows_test, split_json, manifest_sha256, uri)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        input.id,
        input.source,
        input.sourceSha256,
        isoNow(ctx),
        input.rows.raw,
        input.rows.rejected,
        input.rows.dropped,
        input.rows.train,
        input.rows.test,
        JSON.stringify(input.split),
        input.manifestSha256,
        input.uri,
      );
    const created = loadDataset(ctx, input.id);
    if (!created) throw new Error(`data set ${input.id} vanished right after it was registered`);
    return created;
  });
}

export function getDataset(ctx: RegistryContext, idOrPrefix: string): Dataset {
  const id = resolveId(ctx, DATASET_LOOKUP, idOrPrefix);
  const found = loadDataset(ctx, id);
  if (!found) throw new Error(`data set ${id} vanished while it was read`);
  return found;
}

/** Newest first; rowid breaks ties between data sets registered in the same millisecond. */
export function listDatasets(ctx: RegistryContext): Dataset[] {
  return ctx.stmt<DatasetRow>(`${DATASET_SELECT} ORDER BY d.created_at DESC, d.rowid DESC`).all().map(toDataset);
}

export function newestDataset(ctx: RegistryContext): Dataset | null {
  const row = ctx.stmt<DatasetRow>(`${DATASET_SELECT} ORDER BY d.created_at DESC, d.rowid DESC LIMIT 1`).get();
  return row ? toDataset(row) : null;
}

export function linkRunDataset(ctx: RegistryContext, runId: string, datasetId: string, role: DatasetRole): void {
  if (role !== 'input' && role !== 'output') {
    throw new UsageError(`a run uses a data set as 'input' or 'output', not '${String(role)}'`);
  }
  ctx.write(() => {
    requireExactId(ctx, RUN_LOOKUP, runId);
    requireExactId(ctx, DATASET_LOOKUP, datasetId);
    ctx
      .stmt('INSERT OR IGNORE INTO run_datasets (run_id, dataset_id, role) VALUES (?, ?, ?)')
      .run(runId, datasetId, role);
  });
}

/** Runs that read or wrote a data set, newest first. */
export function runsForDataset(ctx: RegistryContext, idOrPrefix: string): Array<Run & { role: DatasetRole }> {
  const id = resolveId(ctx, DATASET_LOOKUP, idOrPrefix);
  return ctx
    .stmt<RunRow & { role: DatasetRole }>(
      `SELECT ${RUN_COLUMNS}, rd.role ${RUN_FROM} JOIN run_datasets rd ON rd.run_id = r.id
       WHERE rd.dataset_id = ? ORDER BY r.start_time DESC, r.id, rd.role`,
    )
    .all(id)
    .map((row) => ({ ...presentRun(ctx, toRun(row)), role: row.role }));
}
