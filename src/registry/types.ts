/** Timestamps are ISO 8601 strings in UTC (`Date.prototype.toISOString`). */
export type Timestamp = string;

export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED';
export type ParamValue = string | number | boolean | null;
export type DatasetRole = 'input' | 'output';
export type ModelVersionStatus = 'PENDING' | 'READY' | 'FAILED';

export interface Experiment {
  id: number;
  name: string;
  createdAt: Timestamp;
}

export interface ExperimentSummary extends Experiment {
  runCount: number;
}

export interface Run {
  id: string;
  experimentId: number;
  experiment: string;
  name: string;
  parentRunId: string | null;
  status: RunStatus;
  startTime: Timestamp;
  endTime: Timestamp | null;
  durationMs: number | null;
  peakRssBytes: number | null;
  cpuTimeMs: number | null;
  pid: number;
  hostname: string;
  error: string | null;
}

export interface StartRunInput {
  experiment: string;
  name: string;
  parentRunId?: string | null;
  tags?: Record<string, string>;
}

export interface FinishRunInput {
  status: 'FINISHED' | 'FAILED';
  error?: string | null;
  peakRssBytes?: number | null;
  cpuTimeMs?: number | null;
}

export interface MetricPoint {
  value: number;
  step: number;
  timestamp: Timestamp;
}

export interface ArtifactInput {
  path: string;
  size: number;
  sha256: string;
  uri: string;
}

export interface Artifact extends ArtifactInput {
  createdAt: Timestamp;
}

/** A run with its params, tags and the latest value of each metric (highest step, then last logged). */
export interface RunSummary extends Run {
  params: Record<string, string>;
  metrics: Record<string, number>;
  tags: Record<string, string>;
}

export interface RunDetail extends RunSummary {
  /** Every logged point per metric key, by step then logging order. */
  metricHistory: Record<string, MetricPoint[]>;
  artifacts: Artifact[];
  datasets: Array<Dataset & { role: DatasetRole }>;
  childrenCount: number;
}

export interface ListRunsOptions {
  experiment?: string;
  /** Only the children of this run (id or unique prefix). */
  parentRunId?: string;
  /** Only runs without a parent; cannot be combined with `parentRunId`. */
  topLevelOnly?: boolean;
  status?: RunStatus;
  /** `params.KEY OP VALUE`, `metrics.KEY OP NUMBER` or `tags.KEY OP VALUE`, OP one of = != > >= < <=; all must hold. */
  filters?: readonly string[];
  /** A field (`start_time`, `metrics.f1`, `params.max_depth`, ...), `-` in front for descending; default `-start_time`. */
  sort?: string;
  limit?: number;
}

export interface DatasetRows {
  raw: number;
  rejected: number;
  dropped: number;
  train: number;
  test: number;
}

export interface DatasetInput {
  id: string;
  source: string;
  sourceSha256: string;
  rows: DatasetRows;
  split: Record<string, unknown>;
  manifestSha256: string;
  uri: string;
}

export interface Dataset extends DatasetInput {
  createdAt: Timestamp;
}

export interface CreateModelVersionInput {
  model: string;
  runId: string;
  datasetId: string;
  bundleUri: string;
  bundleSha256: string;
  engine: string;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
  status?: ModelVersionStatus;
}

export interface ModelVersion extends Omit<CreateModelVersionInput, 'status'> {
  version: number;
  createdAt: Timestamp;
  status: ModelVersionStatus;
  /** Status of the run that created it: FAILED means the run registered it and then died or failed. */
  runStatus: RunStatus;
  /** Aliases that point at this version, sorted. */
  aliases: string[];
}

export interface ModelSummary {
  name: string;
  description: string;
  createdAt: Timestamp;
  latestVersion: number | null;
  aliases: Record<string, number>;
}

export interface SetAliasInput {
  model: string;
  alias: string;
  version: number;
  /** The version the caller last saw (null: unset); undefined skips the compare-and-set check. */
  expected?: number | null | undefined;
  actor: string;
  reason: string;
}

export interface DeleteAliasInput {
  model: string;
  alias: string;
  expected?: number | null | undefined;
  actor: string;
  reason: string;
}

export interface AliasChange {
  model: string;
  alias: string;
  fromVersion: number | null;
  toVersion: number | null;
  /** False when the alias already had the requested target: nothing was written. */
  changed: boolean;
}

export interface AliasHistoryEntry {
  id: number;
  model: string;
  alias: string;
  fromVersion: number | null;
  toVersion: number | null;
  actor: string;
  reason: string;
  time: Timestamp;
}

export interface AcquireLockOptions {
  runId?: string | null;
  /** How long to keep trying while another process holds the lock; 0 tries once. */
  waitMs?: number;
  pollMs?: number;
}

export interface LockInfo {
  name: string;
  ownerPid: number;
  hostname: string;
  runId: string | null;
  acquiredAt: Timestamp;
  /** The holder's last renewal of its lease. */
  heartbeatAt: Timestamp | null;
  /** After this time the lock is anyone's. */
  leaseExpiresAt: Timestamp | null;
  /** True when the holder's lease ran out or its process is gone from this host: the next acquire takes it. */
  stale: boolean;
  staleReason: string | null;
}

export interface BreakLockOptions {
  /** Who breaks it, as recorded on the run; default `operator on <this host>`. */
  actor?: string;
  reason?: string;
}

export interface BrokenLock {
  lock: LockInfo;
  /** The run that held the lock, when it named one. */
  runId: string | null;
  /** True when that run was RUNNING and is now FAILED. */
  runFailed: boolean;
  /** What was recorded on the run. */
  note: string;
}

/** Frees the lock; calling it again, or after another process reclaimed the lock, does nothing. */
export type ReleaseLock = () => Promise<void>;

export type StudyState = 'OPEN' | 'FINISHING' | 'DONE';
export type TrialState = 'PENDING' | 'RUNNING' | 'DONE' | 'FAILED';

/** One search shared by many workers: its settings, how far its trials are, and its outcome once DONE. */
export interface Study {
  name: string;
  /** What every worker must agree on; opaque to the registry. */
  settings: Record<string, string>;
  trials: number;
  state: StudyState;
  createdAt: Timestamp;
  createdByRunId: string;
  /** The worker run that finishes (or finished) the study. */
  finisherRunId: string | null;
  /** What the finisher recorded (JSON text), once DONE. */
  result: string | null;
  finishedAt: Timestamp | null;
  counts: Record<TrialState, number>;
}

export interface StudyTrial {
  study: string;
  index: number;
  /** What the trial is to do (JSON text); opaque to the registry. */
  payload: string;
  state: TrialState;
  /** How many times the trial was claimed: above 1 when a worker died holding it. */
  attempts: number;
  workerRunId: string | null;
  hostname: string | null;
  claimedAt: Timestamp | null;
  /** The trial's own run, once it ended. */
  runId: string | null;
  score: number | null;
  error: string | null;
  endedAt: Timestamp | null;
}

export interface OpenStudyInput {
  name: string;
  settings: Record<string, string>;
  /** One payload (JSON text) per trial, in trial order. */
  payloads: string[];
  /** The run of the worker opening it, recorded as its creator when it is new. */
  runId: string;
}

export interface ClaimedTrial {
  index: number;
  payload: string;
  attempt: number;
}

export interface TrialOutcome {
  state: 'DONE' | 'FAILED';
  runId: string | null;
  score?: number | null;
  error?: string | null;
}

/** What a worker may do next about finishing a study. */
export type FinishClaim =
  | { kind: 'mine' }
  | { kind: 'done'; result: string | null }
  /** Trials still outstanding, or another live worker finishing. */
  | { kind: 'wait'; reason: string };
