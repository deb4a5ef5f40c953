import os from 'node:os';
import { sql } from 'kysely';
import { watchAliases } from './alias-watch.js';
import type { AliasWatchEvents, AliasWatchOptions, StopWatching } from './alias-watch.js';
import { aliasHistory, deleteAlias, getAlias, previousAliasTarget, setAlias } from './aliases.js';
import { createContext } from './context.js';
import type { RegistryContext } from './context.js';
import {
  getDataset,
  linkRunDataset,
  listDatasets,
  newestDataset,
  registerDataset,
  runsForDataset,
} from './datasets.js';
import { openConnection } from './connection.js';
import type { Access, Connection } from './connection.js';
import { getOrCreateExperiment, listExperiments } from './experiments.js';
import { leasePolicy } from './leases.js';
import type { HeartbeatMode, RenewResult } from './leases.js';
import { acquireLock, breakLock, listLocks } from './locks.js';
import { registryId } from './meta.js';
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
  claimStudyFinish,
  claimTrial,
  finishStudy,
  getStudy,
  listStudyTrials,
  openStudy,
  settleTrial,
} from './studies.js';
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
  ClaimedTrial,
  FinishClaim,
  OpenStudyInput,
  Study,
  StudyTrial,
  TrialOutcome,
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

import { describeLocation, parseRegistryLocation } from './url.js';
import type { BackendName, RegistryLocation } from './url.js';

export type * from './types.js';
export type { BackendName, RegistryLocation } from './url.js';
export { describeLocation, parseRegistryLocation, redactUrl } from './url.js';
export type { HeartbeatMode, RenewResult } from './leases.js';
export type { AliasMove, AliasWatchEvents, AliasWatchOptions, StopWatching } from './alias-watch.js';
export { DEFAULT_LEASE_MS } from './leases.js';
export { copyRegistry } from './copy.js';
export type { CopyCount, CopyKind, CopyResult } from './copy.js';
export { LATEST_SCHEMA_VERSION } from './migrations/index.js';
import { LATEST_SCHEMA_VERSION } from './migrations/index.js';

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
   * a wait for another process's write lock. A SQLite file that does not exist yet is created as usual.
   */
  readonly?: boolean;
}

/** What `rainops registry status` shows. */
export interface RegistryStatus {
  backend: BackendName;
  /** The file, or the database URL without its password. */
  url: string;
  schemaVersion: number;
  latestSchemaVersion: number;
  counts: {
    experiments: number;
    runs: number;
    datasets: number;
    models: number;
    versions: number;
    aliases: number;
  };
}

/**
 * The tracking store and model registry, in one SQLite file or one PostgreSQL database. Every method
 * returns a promise, whichever database holds it.
 */
export interface Registry {
  /** The SQLite file, or the PostgreSQL URL without its password: safe to show and to record. */
  readonly file: string;
  readonly backend: BackendName;
  /** `snapshot`: opened read-only from a private copy (read-only directory, full disk); later changes are not seen. */
  readonly access: Access;
  schemaVersion(): Promise<number>;
  /** This registry's persistent random id; a store records the id of the registry that owns it. */
  registryId(): Promise<string>;
  /** Backend, schema version and how many of each thing it holds. */
  status(): Promise<RegistryStatus>;
  /** SQLite: copies the write-ahead log into the database file and empties it (best effort); otherwise nothing. */
  checkpoint(): Promise<void>;
  /** Closes the connection; runs and locks still held keep their leases until they run out. */
  close(): Promise<void>;
  /** Renews the lease of every run and lock this connection holds (a heartbeat does it on its own). */
  heartbeat(): Promise<RenewResult>;

  getOrCreateExperiment(name: string): Promise<Experiment>;
  listExperiments(): Promise<ExperimentSummary[]>;

  startRun(input: StartRunInput): Promise<Run>;
  logParams(runId: string, params: Record<string, ParamValue>): Promise<void>;
  logMetric(runId: string, key: string, value: number, step?: number): Promise<void>;
  logMetrics(runId: string, metrics: Record<string, number>, step?: number): Promise<void>;
  setTags(runId: string, tags: Record<string, string>): Promise<void>;
  logArtifact(runId: string, artifact: ArtifactInput): Promise<void>;
  finishRun(runId: string, input: FinishRunInput): Promise<Run>;
  getRun(idOrPrefix: string): Promise<RunDetail>;
  listRuns(opts?: ListRunsOptions): Promise<RunSummary[]>;
  reapDeadRuns(): Promise<number>;

  registerDataset(input: DatasetInput): Promise<Dataset>;
  getDataset(idOrPrefix: string): Promise<Dataset>;
  listDatasets(): Promise<Dataset[]>;
  newestDataset(): Promise<Dataset | null>;
  linkRunDataset(runId: string, datasetId: string, role: DatasetRole): Promise<void>;
  runsForDataset(idOrPrefix: string): Promise<Array<Run & { role: DatasetRole }>>;

  createModelVersion(input: CreateModelVersionInput): Promise<{ model: string; version: number }>;
  getModelVersion(model: string, version: number): Promise<ModelVersion>;
  getModelVersionByAlias(model: string, alias: string): Promise<ModelVersion | null>;
  listModelVersions(model: string): Promise<ModelVersion[]>;
  listModels(): Promise<ModelSummary[]>;
  getAlias(model: string, alias: string): Promise<number | null>;
  setAlias(input: SetAliasInput): Promise<AliasChange>;
  deleteAlias(input: DeleteAliasInput): Promise<AliasChange>;
  aliasHistory(model: string, alias?: string): Promise<AliasHistoryEntry[]>;
  previousAliasTarget(model: string, alias: string): Promise<number | null>;
  /**
   * Hears of alias moves as they commit, on a connection of its own that reconnects when it drops (PostgreSQL
   * LISTEN/NOTIFY); on SQLite it hears nothing and callers keep polling. Optional: a stand-in registry may lack it.
   */
  watchAliases?(events: AliasWatchEvents, opts?: AliasWatchOptions): Promise<StopWatching>;

  /** Creates the study with its trials, or returns the existing one of that name (`created` false). */
  openStudy(input: OpenStudyInput): Promise<{ study: Study; created: boolean }>;
  getStudy(name: string): Promise<Study | null>;
  listStudyTrials(name: string): Promise<StudyTrial[]>;
  /** Claims a trial nobody holds for the worker run `workerRunId` (held while that run is RUNNING), or null. */
  claimTrial(name: string, workerRunId: string): Promise<ClaimedTrial | null>;
  /** Records how a claimed trial ended; false when the claim was lost meanwhile. */
  settleTrial(name: string, index: number, workerRunId: string, outcome: TrialOutcome): Promise<boolean>;
  /** Once every trial ended, exactly one live worker gets to finish the study. */
  claimStudyFinish(name: string, workerRunId: string): Promise<FinishClaim>;
  finishStudy(name: string, workerRunId: string, result: string): Promise<boolean>;

  acquireLock(name: string, opts?: AcquireLockOptions): Promise<ReleaseLock>;
  listLocks(): Promise<LockInfo[]>;
  breakLock(name: string, opts?: BreakLockOptions): Promise<BrokenLock>;
}

function locate(target: string | RegistryLocation): RegistryLocation {
  return typeof target === 'string' ? parseRegistryLocation(target) : target;
}

async function counts(ctx: RegistryContext): Promise<RegistryStatus['counts']> {
  type Table = 'experiments' | 'runs' | 'datasets' | 'registered_models' | 'model_versions' | 'aliases';
  return ctx.read(async (tx) => {
    const n = async (table: Table) =>
      (await tx.one(sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(table)}`))?.n ?? 0;
    return {
      experiments: await n('experiments'),
      runs: await n('runs'),
      datasets: await n('datasets'),
      models: await n('registered_models'),
      versions: await n('model_versions'),
      aliases: await n('aliases'),
    };
  });
}

/**
 * Opens (creating and migrating if needed) the registry at `target` (a SQLite path, `sqlite://PATH`,
 * `postgres://...`), then fails the runs whose holder is gone.
 */
export async function openRegistry(
  target: string | RegistryLocation,
  opts: OpenRegistryOptions = {},
): Promise<Registry> {
  const lease = leasePolicy(opts);
  const location = locate(target);
  const conn = await openConnection(location, opts.readonly ?? false);
  const inMemory = location.backend === 'sqlite' && location.file === ':memory:';
  const ctx = createContext(conn, {
    now: opts.now ?? (() => new Date()),
    pid: opts.pid ?? process.pid,
    hostname: opts.hostname ?? os.hostname(),
    isPidAlive: opts.isPidAlive ?? isPidAlive,
    lease,
    heartbeat: opts.heartbeat ?? (opts.now !== undefined || inMemory ? 'timer' : 'thread'),
    readOnly: conn.access !== 'read-write',
  });
  const registry = bindRegistry(conn, ctx);
  try {
    await registry.reapDeadRuns();
  } catch (err) {
    await conn.close();
    throw err;
  }
  return registry;
}

function bindRegistry(conn: Connection, ctx: RegistryContext): Registry {
  return {
    file: conn.name,
    backend: conn.backend,
    access: conn.access,
    schemaVersion: () => conn.schemaVersion(),
    registryId: () => registryId(ctx),
    status: async () => ({
      backend: conn.backend,
      url: conn.name,
      schemaVersion: await conn.schemaVersion(),
      latestSchemaVersion: LATEST_SCHEMA_VERSION,
      counts: await counts(ctx),
    }),
    checkpoint: () => conn.checkpoint(),
    close: async () => {
      ctx.leases.close();
      await conn.close();
    },
    heartbeat: () => ctx.leases.renew(),

    getOrCreateExperiment: (name) => ctx.write((tx) => getOrCreateExperiment(tx, name)),
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
    watchAliases: (events, watchOpts) => watchAliases(conn, events, watchOpts),

    openStudy: (input) => openStudy(ctx, input),
    getStudy: (name) => getStudy(ctx, name),
    listStudyTrials: (name) => listStudyTrials(ctx, name),
    claimTrial: (name, workerRunId) => claimTrial(ctx, name, workerRunId),
    settleTrial: (name, index, workerRunId, outcome) => settleTrial(ctx, name, index, workerRunId, outcome),
    claimStudyFinish: (name, workerRunId) => claimStudyFinish(ctx, name, workerRunId),
    finishStudy: (name, workerRunId, result) => finishStudy(ctx, name, workerRunId, result),

    acquireLock: (name, lockOpts) => acquireLock(ctx, name, lockOpts),
    listLocks: () => listLocks(ctx),
    breakLock: (name, breakOpts) => breakLock(ctx, name, breakOpts),
  };
}

/** What `rainops registry migrate` did. */
export interface MigrateResult {
  backend: BackendName;
  url: string;
  fromVersion: number;
  toVersion: number;
  applied: Array<{ version: number; name: string }>;
}

/** Applies the pending migrations (several processes may do it at once) and says which. */
export async function migrateRegistry(target: string | RegistryLocation): Promise<MigrateResult> {
  const location = locate(target);
  const conn = await openConnection(location, false);
  try {
    const toVersion = await conn.schemaVersion();
    const applied = conn.applied.map((m) => ({ version: m.version, name: m.name }));
    const fromVersion = applied.length > 0 ? applied[0]!.version - 1 : toVersion;
    return { backend: conn.backend, url: describeLocation(location), fromVersion, toVersion, applied };
  } finally {
    await conn.close();
  }
}
