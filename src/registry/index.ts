import fs from 'node:fs';
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
import { openDatabase, openReadOnlyDatabase } from './db.js';
import type { Db } from './db.js';
import { getOrCreateExperiment, listExperiments } from './experiments.js';
import { leasePolicy } from './leases.js';
import type { HeartbeatMode, RenewResult } from './leases.js';
import { acquireLock, breakLock, listLocks } from './locks.js';
import { registryId } from './meta.js';
import { checkCurrent, migrate, schemaVersion } from './migrate.js';
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
  BreakLockOptions,
  BrokenLock,
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
export type { HeartbeatMode, RenewResult } from './leases.js';
export { DEFAULT_LEASE_MS } from './leases.js';
export { LATEST_SCHEMA_VERSION } from './migrations/index.js';

export interface OpenRegistryOptions {
  /** Clock for every recorded time (tests pin it). */
  now?: () => Date;
  /** Identity recorded on runs and locks; defaults to this process. */
  pid?: number;
  hostname?: string;
  /** Whether a pid on this host still runs; defaults to `process.kill(pid, 0)`. */
  isPidAlive?: (pid: number) => boolean;
  /** How long a run or lock of this process stays held without a heartbeat; default 30 s. */
  leaseMs?: number;
  /** How often this process renews what it holds; default a third of the lease. */
  heartbeatMs?: number;
  /**
   * `thread` (default for a file): a worker thread renews, so a busy event loop never loses a lease;
   * `timer` (default with an injected clock or in memory): a timer in this thread renews with that clock.
   */
  heartbeat?: HeartbeatMode;
  /**
   * Only read: no migrations, no WAL switch, no reaping (runs whose holder is gone are shown as FAILED), never
   * a wait for another process's write lock. A file that does not exist yet is created as usual.
   */
  readonly?: boolean;
}

/** The tracking store and model registry in one SQLite file. Every method but `acquireLock` is synchronous. */
export interface Registry {
  readonly file: string;
  /** `snapshot`: opened read-only from a private copy (read-only directory, full disk); later changes are not seen. */
  readonly access: 'read-write' | 'read-only' | 'snapshot';
  schemaVersion(): number;
  /** This registry's persistent random id; a store records the id of the registry that owns it. */
  registryId(): string;
  /** Closes the file; runs and locks still held keep their leases until they run out. */
  /** Copies the write-ahead log into the database file and empties it (best effort: readers may hold part of it). */
  checkpoint(): void;
  close(): void;
  /** Renews the lease of every run and lock this connection holds (a timer does it every heartbeat). */
  heartbeat(): RenewResult;

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
  breakLock(name: string, opts?: BreakLockOptions): BrokenLock;
}

function openFile(file: string, readonly: boolean): { db: Db; access: Registry['access'] } {
  // a missing or empty file is no registry yet: the writable open creates it (or says what is wrong)
  if (readonly && file !== ':memory:' && (fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0) > 0) {
    const { db, snapshot } = openReadOnlyDatabase(file);
    try {
      checkCurrent(db, file);
    } catch (err) {
      db.close();
      throw err;
    }
    return { db, access: snapshot ? 'snapshot' : 'read-only' };
  }
  const db = openDatabase(file);
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return { db, access: 'read-write' };
}

/** Opens (creating and migrating if needed) the registry file, then fails the runs whose holder is gone. */
export function openRegistry(file: string, opts: OpenRegistryOptions = {}): Registry {
  const lease = leasePolicy(opts);
  const { db, access } = openFile(file, opts.readonly ?? false);
  const ctx = createContext(db, {
    now: opts.now ?? (() => new Date()),
    pid: opts.pid ?? process.pid,
    hostname: opts.hostname ?? os.hostname(),
    isPidAlive: opts.isPidAlive ?? isPidAlive,
    lease,
    heartbeat: opts.heartbeat ?? (opts.now !== undefined || file === ':memory:' ? 'timer' : 'thread'),
    readOnly: access !== 'read-write',
  });
  const registry: Registry = {
    file,
    access,
    schemaVersion: () => schemaVersion(db),
    registryId: () => registryId(ctx),
    checkpoint: () => {
      db.pragma('wal_checkpoint(TRUNCATE)');
    },
    close: () => {
      ctx.leases.close();
      if (db.open) db.close();
    },
    heartbeat: () => ctx.leases.renew(),

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
    breakLock: (name, breakOpts) => breakLock(ctx, name, breakOpts),
  };
  try {
    registry.reapDeadRuns();
  } catch (err) {
    db.close();
    throw err;
  }
  return registry;
}
