/** Version 4 on PostgreSQL: the study tables of 004_studies.ts. Never edit once released. */
export const postgres = `
CREATE TABLE studies (
  name text COLLATE "C" PRIMARY KEY,
  settings_json text COLLATE "C" NOT NULL,
  trials integer NOT NULL,
  state text COLLATE "C" NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'FINISHING', 'DONE')),
  created_at text COLLATE "C" NOT NULL,
  created_by_run_id text COLLATE "C" NOT NULL REFERENCES runs(id),
  finisher_run_id text COLLATE "C" REFERENCES runs(id),
  result_json text COLLATE "C",
  finished_at text COLLATE "C"
);

CREATE TABLE study_trials (
  study text COLLATE "C" NOT NULL REFERENCES studies(name),
  idx integer NOT NULL,
  payload_json text COLLATE "C" NOT NULL,
  state text COLLATE "C" NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'RUNNING', 'DONE', 'FAILED')),
  attempts integer NOT NULL DEFAULT 0,
  worker_run_id text COLLATE "C" REFERENCES runs(id),
  hostname text COLLATE "C",
  claimed_at text COLLATE "C",
  run_id text COLLATE "C" REFERENCES runs(id),
  score double precision,
  error text COLLATE "C",
  ended_at text COLLATE "C",
  PRIMARY KEY (study, idx)
);
CREATE INDEX study_trials_state ON study_trials(study, state);
`;
