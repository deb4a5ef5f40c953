/**
 * Version 4: studies, one search shared by many workers. A study's trials are claimed one at a time; a claim is
 * held while the claiming worker's run is RUNNING, so a worker whose lease ran out loses its trials to the others.
 * Never edit once released; add 005_... instead.
 */
export const sql = `
CREATE TABLE studies (
  name TEXT PRIMARY KEY,
  settings_json TEXT NOT NULL,
  trials INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'FINISHING', 'DONE')),
  created_at TEXT NOT NULL,
  created_by_run_id TEXT NOT NULL REFERENCES runs(id),
  finisher_run_id TEXT REFERENCES runs(id),
  result_json TEXT,
  finished_at TEXT
) WITHOUT ROWID;

CREATE TABLE study_trials (
  study TEXT NOT NULL REFERENCES studies(name),
  idx INTEGER NOT NULL,
  payload_json TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'RUNNING', 'DONE', 'FAILED')),
  attempts INTEGER NOT NULL DEFAULT 0,
  worker_run_id TEXT REFERENCES runs(id),
  hostname TEXT,
  claimed_at TEXT,
  run_id TEXT REFERENCES runs(id),
  score REAL,
  error TEXT,
  ended_at TEXT,
  PRIMARY KEY (study, idx)
) WITHOUT ROWID;
CREATE INDEX study_trials_state ON study_trials(study, state);
`;
