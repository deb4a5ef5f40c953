import type { Generated } from 'kysely';

/** The registry's tables as the queries see them, the same on SQLite and PostgreSQL (times are ISO 8601 text). */
export interface RegistryTables {
  experiments: { id: Generated<number>; name: string; created_at: string };
  runs: {
    id: string;
    experiment_id: number;
    name: string;
    parent_run_id: string | null;
    status: string;
    start_time: string;
    end_time: string | null;
    duration_ms: number | null;
    peak_rss_bytes: number | null;
    cpu_time_ms: number | null;
    pid: number;
    hostname: string;
    error: string | null;
    heartbeat_at: string | null;
    lease_expires_at: string | null;
  };
  params: { run_id: string; key: string; value: string };
  /** value NULL stands for NaN. */
  metrics: {
    id: Generated<number>;
    run_id: string;
    key: string;
    value: number | null;
    step: number;
    timestamp: string;
  };
  tags: { run_id: string; key: string; value: string };
  artifacts: { run_id: string; path: string; size: number; sha256: string; uri: string; created_at: string };
  datasets: {
    id: string;
    source: string;
    source_sha256: string;
    created_at: string;
    rows_raw: number;
    rows_rejected: number;
    rows_dropped: number;
    rows_train: number;
    rows_test: number;
    split_json: string;
    manifest_sha256: string;
    uri: string;
  };
  run_datasets: { run_id: string; dataset_id: string; role: string };
  registered_models: { name: string; created_at: string; description: Generated<string> };
  model_versions: {
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
    status: string;
  };
  aliases: { model: string; alias: string; version: number };
  alias_history: {
    id: Generated<number>;
    model: string;
    alias: string;
    from_version: number | null;
    to_version: number | null;
    actor: string;
    reason: string;
    time: string;
  };
  locks: {
    name: string;
    owner_pid: number;
    hostname: string;
    run_id: string | null;
    acquired_at: string;
    token: string;
    heartbeat_at: string | null;
    lease_expires_at: string | null;
  };
  registry_meta: { key: string; value: string };
  studies: {
    name: string;
    settings_json: string;
    trials: number;
    state: string;
    created_at: string;
    created_by_run_id: string;
    finisher_run_id: string | null;
    result_json: string | null;
    finished_at: string | null;
  };
  study_trials: {
    study: string;
    idx: number;
    payload_json: string;
    state: string;
    attempts: number;
    worker_run_id: string | null;
    hostname: string | null;
    claimed_at: string | null;
    run_id: string | null;
    score: number | null;
    error: string | null;
    ended_at: string | null;
  };
}
