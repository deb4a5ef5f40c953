import { sql } from 'kysely';
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

async function loadDataset(ctx: RegistryContext, id: string): Promise<Dataset | null> {
  const row = await ctx.one(sql<DatasetRow>`${DATASET_SELECT} WHERE d.id = ${id}`);
  return row ? toDataset(row) : null;
}

/** Data set versions are immutable: registering an id that exists returns the stored record unchanged. */
export async function registerDataset(ctx: RegistryContext, input: DatasetInput): Promise<Dataset> {
  checkDatasetInput(input);
  return ctx.write(async (tx) => {
    const existing = await loadDataset(tx, input.id);
    if (existing) return existing;
    await tx.run(
      sql`INSERT INTO datasets (id, source, source_sha256, created_at, rows_raw, rows_rejected, rows_dropped,
          rows_train, rows_test, split_json, manifest_sha256, uri)
        VALUES (${input.id}, ${input.source}, ${input.sourceSha256}, ${isoNow(tx)}, ${input.rows.raw},
          ${input.rows.rejected}, ${input.rows.dropped}, ${input.rows.train}, ${input.rows.test},
          ${JSON.stringify(input.split)}, ${input.manifestSha256}, ${input.uri})`,
    );
    const created = await loadDataset(tx, input.id);
    if (!created) throw new Error(`data set ${input.id} vanished right after it was registered`);
    return created;
  });
}

export async function getDataset(ctx: RegistryContext, idOrPrefix: string): Promise<Dataset> {
  const id = await resolveId(ctx, DATASET_LOOKUP, idOrPrefix);
  const found = await loadDataset(ctx, id);
  if (!found) throw new Error(`data set ${id} vanished while it was read`);
  return found;
}

/** Newest first; the insertion order breaks ties between data sets registered in the same millisecond. */
function newestFirst(ctx: RegistryContext) {
  return sql`ORDER BY d.created_at DESC, ${sql.ref(`d.${ctx.conn.insertOrder}`)} DESC`;
}

export async function listDatasets(ctx: RegistryContext): Promise<Dataset[]> {
  return (await ctx.all(sql<DatasetRow>`${DATASET_SELECT} ${newestFirst(ctx)}`)).map(toDataset);
}

export async function newestDataset(ctx: RegistryContext): Promise<Dataset | null> {
  const row = await ctx.one(sql<DatasetRow>`${DATASET_SELECT} ${newestFirst(ctx)} LIMIT 1`);
  return row ? toDataset(row) : null;
}

export async function linkRunDataset(
  ctx: RegistryContext,
  runId: string,
  datasetId: string,
  role: DatasetRole,
): Promise<void> {
  if (role !== 'input' && role !== 'output') {
    throw new UsageError(`a run uses a data set as 'input' or 'output', not '${String(role)}'`);
  }
  await ctx.write(async (tx) => {
    await requireExactId(tx, RUN_LOOKUP, runId);
    await requireExactId(tx, DATASET_LOOKUP, datasetId);
    await tx.run(
      sql`INSERT INTO run_datasets (run_id, dataset_id, role) VALUES (${runId}, ${datasetId}, ${role})
        ON CONFLICT DO NOTHING`,
    );
  });
}

/** Runs that read or wrote a data set, newest first. */
export async function runsForDataset(
  ctx: RegistryContext,
  idOrPrefix: string,
): Promise<Array<Run & { role: DatasetRole }>> {
  const id = await resolveId(ctx, DATASET_LOOKUP, idOrPrefix);
  const rows = await ctx.all(
    sql<
      RunRow & { role: DatasetRole }
    >`SELECT ${RUN_COLUMNS}, rd.role ${RUN_FROM} JOIN run_datasets rd ON rd.run_id = r.id
      WHERE rd.dataset_id = ${id} ORDER BY r.start_time DESC, r.id, rd.role`,
  );
  return rows.map((row) => ({ ...presentRun(ctx, toRun(row)), role: row.role }));
}
