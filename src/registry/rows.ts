import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import type { Dataset, Run, RunStatus } from './types.js';
import type { RegistryTables } from './schema.js';

/** Values for `IN (...)`; callers never pass an empty list, which neither database accepts. */
export function inList(values: readonly (string | number)[]): RawBuilder<unknown> {
  return sql.join(values.map((v) => sql`${v}`));
}

export interface RunRow {
  id: string;
  experiment_id: number;
  experiment_name: string;
  name: string;
  parent_run_id: string | null;
  status: RunStatus;
  start_time: string;
  end_time: string | null;
  duration_ms: number | null;
  peak_rss_bytes: number | null;
  cpu_time_ms: number | null;
  pid: number;
  hostname: string;
  error: string | null;
}

export const RUN_COLUMNS = sql`r.id, r.experiment_id, e.name AS experiment_name, r.name, r.parent_run_id,
  r.status, r.start_time, r.end_time, r.duration_ms, r.peak_rss_bytes, r.cpu_time_ms, r.pid, r.hostname, r.error`;

export const RUN_FROM = sql`FROM runs r JOIN experiments e ON e.id = r.experiment_id`;

export const RUN_SELECT = sql`SELECT ${RUN_COLUMNS} ${RUN_FROM}`;

export function toRun(row: RunRow): Run {
  return {
    id: row.id,
    experimentId: row.experiment_id,
    experiment: row.experiment_name,
    name: row.name,
    parentRunId: row.parent_run_id,
    status: row.status,
    startTime: row.start_time,
    endTime: row.end_time,
    durationMs: row.duration_ms,
    peakRssBytes: row.peak_rss_bytes,
    cpuTimeMs: row.cpu_time_ms,
    pid: row.pid,
    hostname: row.hostname,
    error: row.error,
  };
}

export type DatasetRow = RegistryTables['datasets'];

export const DATASET_COLUMNS = sql`d.id, d.source, d.source_sha256, d.created_at, d.rows_raw, d.rows_rejected,
  d.rows_dropped, d.rows_train, d.rows_test, d.split_json, d.manifest_sha256, d.uri`;

export const DATASET_SELECT = sql`SELECT ${DATASET_COLUMNS} FROM datasets d`;

export function toDataset(row: DatasetRow): Dataset {
  return {
    id: row.id,
    source: row.source,
    sourceSha256: row.source_sha256,
    createdAt: row.created_at,
    rows: {
      raw: row.rows_raw,
      rejected: row.rows_rejected,
      dropped: row.rows_dropped,
      train: row.rows_train,
      test: row.rows_test,
    },
    split: JSON.parse(row.split_json) as Record<string, unknown>,
    manifestSha256: row.manifest_sha256,
    uri: row.uri,
  };
}

/** NaN is stored as NULL (SQLite cannot store it); metric values come back as NaN rather than null. */
export function metricValue(value: number | null): number {
  return value === null ? Number.NaN : value;
}
