import os from 'node:os';
import { aliasHistory, deleteAlias, getAlias, previousAliasTarget, setAlias } from './aliases.js';
import { createContext } from './context.js';
import {
  getDataset,
  linkRunDataset,
  listDatasets,
  newestDataset,
  registerDataset,
  runsForDataset,
} from './datasets.js';
import { openDatabase } from './db.js';
import { getOrCreateExperiment, listExperiments } from './experiments.js';
import { acquireLock, listLocks } from './locks.js';
import { migrate, schemaVersion } from './migrate.js';
import {
  createModelVersion,
  getModelVersion,
  getModelVersionByAlias,
  listModelVersions,
  listModels,
} from './models.js';
import { isPidAlive } from './process.js';
import { listRuns } from './run-list.js';
import {
  finishRun,
  getRun,
  logArtifact,
  logMetric,
  logMetrics,
  logParams,
  reapDeadRuns,
  setTags,
  startRun,
} from './runs.js';
import type {
  AcquireLockOptions,
  AliasChange,
  AliasHistoryEntry,
  ArtifactInput,
  CreateModelVersionInput,
  Dataset,
  DatasetInput,
  DatasetRole,
  DeleteAliasInput,
  Experiment,
  ExperimentSummary,
  FinishRunInput,
  ListRunsOptions,
  LockInfo,
  ModelSummary,
  ModelVersion,
  ParamValue,
  ReleaseLock,
  Run,
  RunDetail,
  RunSummary,
  SetAliasInput,
  StartRunInput,
} from './types.js';

export type * from './types.js';
export { LATEST_SCHEMA_VERSION } from './migrations/index.js';

export interface OpenRegistryOptions {
  /** Clock for every recorded time (tests pin it). */
  now?: () => Date;
  /** Identity recorded on runs and locks; defaults to this process. */
  pid?: number;
  hostname?: string;
  /** Whether a pid on this host still runs; defaults to `process.kill(pid, 0)`. */
  isPidAlive?: (pid: number) => boolean;
}

/** The tracking store and model registry in one SQLite file. Every method but `acquireLock` is synchronous. */
export interface Registry {
  readonly file: string;
  schemaVersion(): number;
  /** Copies the write-ahead log into the database file and empties it (best effort: readers may hold part of it). */
  checkpoint(): void;
  close(): void;

  getOrCreateExperiment(name: string): Experiment;
  listExperiments(): ExperimentSummary[];

  startRun(input: StartRunInput): Run;
  logParams(runId: string, params: Record<string, ParamValue>): void;
  logMetric(runId: string, key: string, value: number, step?: number): void;
  logMetrics(runId: string, metrics: Record<string, number>, step?: number): void;
  setTags(runId: string, tags: Record<string, string>): void;
  logArtifact(runId: string, artifact: ArtifactInput): void;
  finishRun(runId: string, input: FinishRunInput): Run;
  getRun(idOrPrefix: string): RunDetail;
  listRuns(opts?: ListRunsOptions): RunSummary[];
  reapDeadRuns(): number;

  registerDataset(input: DatasetInput): Dataset;
  getDataset(idOrPrefix: string): Dataset;
  listDatasets(): Dataset[];
  newestDataset(): Dataset | null;
  linkRunDataset(runId: string, datasetId: string, role: DatasetRole): void;
  runsForDataset(idOrPrefix: string): Array<Run & { role: DatasetRole }>;

  createModelVersion(input: CreateModelVersionInput): { model: string; version: number };
  getModelVersion(model: string, version: number): ModelVersion;
  getModelVersionByAlias(model: string, alias: string): ModelVersion | null;
  listModelVersions(model: string): ModelVersion[];
  listModels(): ModelSummary[];
  getAlias(model: string, alias: string): number | null;
  setAlias(input: SetAliasInput): AliasChange;
  deleteAlias(input: DeleteAliasInput): AliasChange;
  aliasHistory(model: string, alias?: string): AliasHistoryEntry[];
  previousAliasTarget(model: string, alias: string): number | null;

  acquireLock(name: string, opts?: AcquireLockOptions): Promise<ReleaseLock>;
  listLocks(): LockInfo[];
}

/** Opens (creating and migrating if needed) the registry file, then fails the runs of processes that died. */
export function openRegistry(file: string, opts: OpenRegistryOptions = {}): Registry {
  const db = openDatabase(file);
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  const ctx = createContext(db, {
    now: opts.now ?? (() => new Date()),
    pid: opts.pid ?? process.pid,
    hostname: opts.hostname ?? os.hostname(),
    isPidAlive: opts.isPidAlive ?? isPidAlive,
  });
  const registry: Registry = {
    file,
    schemaVersion: () => schemaVersion(db),
    checkpoint: () => {
      db.pragma('wal_checkpoint(TRUNCATE)');
    },
    close: () => {
      if (db.open) db.close();
    },

    getOrCreateExperiment: (name) => getOrCreateExperiment(ctx, name),
    listExperiments: () => listExperiments(ctx),

    startRun: (input) => startRun(ctx, input),
    logParams: (runId, params) => logParams(ctx, runId, params),
    logMetric: (runId, key, value, step) => logMetric(ctx, runId, key, value, step),
    logMetrics: (runId, metrics, step) => logMetrics(ctx, runId, metrics, step),
    setTags: (runId, tags) => setTags(ctx, runId, tags),
    logArtifact: (runId, artifact) => logArtifact(ctx, runId, artifact),
    finishRun: (runId, input) => finishRun(ctx, runId, input),
    getRun: (idOrPrefix) => getRun(ctx, idOrPrefix),
    listRuns: (listOpts) => listRuns(ctx, listOpts),
    reapDeadRuns: () => reapDeadRuns(ctx),

    registerDataset: (input) => registerDataset(ctx, input),
    getDataset: (idOrPrefix) => getDataset(ctx, idOrPrefix),
    listDatasets: () => listDatasets(ctx),
    newestDataset: () => newestDataset(ctx),
    linkRunDataset: (runId, datasetId, role) => linkRunDataset(ctx, runId, datasetId, role),
    runsForDataset: (idOrPrefix) => runsForDataset(ctx, idOrPrefix),

    createModelVersion: (input) => createModelVersion(ctx, input),
    getModelVersion: (model, version) => getModelVersion(ctx, model, version),
    getModelVersionByAlias: (model, alias) => getModelVersionByAlias(ctx, model, alias),
    listModelVersions: (model) => listModelVersions(ctx, model),
    listModels: () => listModels(ctx),
    getAlias: (model, alias) => getAlias(ctx, model, alias),
    setAlias: (input) => setAlias(ctx, input),
    deleteAlias: (input) => deleteAlias(ctx, input),
    aliasHistory: (model, alias) => aliasHistory(ctx, model, alias),
    previousAliasTarget: (model, alias) => previousAliasTarget(ctx, model, alias),

    acquireLock: (name, lockOpts) => acquireLock(ctx, name, lockOpts),
    listLocks: () => listLocks(ctx),
  };
  try {
    registry.reapDeadRuns();
  } catch (err) {
    db.close();
    throw err;
  }
  return registry;
}
