/** Version 1: the whole tracking store and model registry. Never edit once released; add 002_... instead. */
export const sql = `
CREATE TABLE experiments (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);

CREATE TABLE runs (
  id TEXT PRIMARY KEY CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  name TEXT NOT NULL,
  parent_run_id TEXT REFERENCES runs(id),
  status TEXT NOT NULL CHECK (status IN ('RUNNING', 'FINISHED', 'FAILED')),
  start_time TEXT NOT NULL,
  end_time TEXT,
  duration_ms INTEGER,
  peak_rss_bytes INTEGER,
  cpu_time_ms INTEGER,
  pid INTEGER NOT NULL,
  hostname TEXT NOT NULL,
  error TEXT
);
CREATE INDEX runs_experiment_start ON runs(experiment_id, start_time);
CREATE INDEX runs_parent ON runs(parent_run_id);
CREATE INDEX runs_status_host ON runs(status, hostname);

CREATE TABLE params (
  run_id TEXT NOT NULL REFERENCES runs(id),
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- value NULL stands for NaN, which SQLite cannot store as a REAL
CREATE TABLE metrics (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs(id),
  key TEXT NOT NULL,
  value REAL,
  step INTEGER NOT NULL DEFAULT 0,
  timestamp TEXT NOT NULL
);
CREATE INDEX metrics_run_key_step ON metrics(run_id, key, step, id);
CREATE TRIGGER metrics_no_update BEFORE UPDATE ON metrics
BEGIN SELECT RAISE(ABORT, 'metrics are append-only'); END;
CREATE TRIGGER metrics_no_delete BEFORE DELETE ON metrics
BEGIN SELECT RAISE(ABORT, 'metrics are append-only'); END;

CREATE TABLE tags (
  run_id TEXT NOT NULL REFERENCES runs(id),
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE artifacts (
  run_id TEXT NOT NULL REFERENCES runs(id),
  path TEXT NOT NULL,
  size INTEGER NOT NULL CHECK (size >= 0),
  sha256 TEXT NOT NULL,
  uri TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (run_id, path)
);

CREATE TABLE datasets (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  source_sha256 TEXT NOT NULL,
  created_at TEXT NOT NULL,
  rows_raw INTEGER NOT NULL,
  rows_rejected INTEGER NOT NULL,
  rows_dropped INTEGER NOT NULL,
  rows_train INTEGER NOT NULL,
  rows_test INTEGER NOT NULL,
  split_json TEXT NOT NULL CHECK (json_valid(split_json)),
  manifest_sha256 TEXT NOT NULL,
  uri TEXT NOT NULL
);
CREATE INDEX datasets_created ON datasets(created_at);

CREATE TABLE run_datasets (
  run_id TEXT NOT NULL REFERENCES runs(id),
  dataset_id TEXT NOT NULL REFERENCES datasets(id),
  role TEXT NOT NULL CHECK (role IN ('input', 'output')),
  PRIMARY KEY (run_id, dataset_id, role)
);
CREATE INDEX run_datasets_dataset ON run_datasets(dataset_id);

CREATE TABLE registered_models (
  name TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT ''
);

CREATE TABLE model_versions (
  model TEXT NOT NULL REFERENCES registered_models(name),
  version INTEGER NOT NULL CHECK (version >= 1),
  run_id TEXT NOT NULL REFERENCES runs(id),
  dataset_id TEXT NOT NULL REFERENCES datasets(id),
  bundle_uri TEXT NOT NULL,
  bundle_sha256 TEXT NOT NULL,
  engine TEXT NOT NULL,
  params_json TEXT NOT NULL CHECK (json_valid(params_json)),
  metrics_json TEXT NOT NULL CHECK (json_valid(metrics_json)),
  created_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'READY' CHECK (status IN ('PENDING', 'READY', 'FAILED')),
  PRIMARY KEY (model, version)
);
CREATE INDEX model_versions_run ON model_versions(run_id);
CREATE INDEX model_versions_dataset ON model_versions(dataset_id);

CREATE TABLE aliases (
  model TEXT NOT NULL,
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (model, alias),
  FOREIGN KEY (model, version) REFERENCES model_versions(model, version)
);

CREATE TABLE alias_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model TEXT NOT NULL REFERENCES registered_models(name),
  alias TEXT NOT NULL,
  from_version INTEGER,
  to_version INTEGER,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  time TEXT NOT NULL
);
CREATE INDEX alias_history_model_alias ON alias_history(model, alias, id);
CREATE TRIGGER alias_history_no_update BEFORE UPDATE ON alias_history
BEGIN SELECT RAISE(ABORT, 'alias_history is append-only'); END;
CREATE TRIGGER alias_history_no_delete BEFORE DELETE ON alias_history
BEGIN SELECT RAISE(ABORT, 'alias_history is append-only'); END;

-- run_id has no foreign key: a command may take its lock before it starts its run
CREATE TABLE locks (
  name TEXT PRIMARY KEY,
  owner_pid INTEGER NOT NULL,
  hostname TEXT NOT NULL,
  run_id TEXT,
  acquired_at TEXT NOT NULL,
  token TEXT NOT NULL
);
`;
