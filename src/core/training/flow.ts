import { availableParallelism } from 'node:os';
import type { Dataset } from '../../registry/index.js';
import type { CoreDeps } from '../context.js';
import { clockOf, EXPERIMENT } from '../context.js';
import type { DatasetMatrices } from '../dataset/load.js';
import { classificationMetrics } from '../evaluation/metrics.js';
import type { ClassificationMetrics } from '../evaluation/metrics.js';
import { FEATURE_NAMES } from '../features/pipeline.js';
import type { XgbEngine } from '../models/engine.js';
import { xgbParamRecord } from '../models/params.js';
import type { XgbParams } from '../models/params.js';
import { compileEnsemble } from '../models/trees.js';
import type { TreeEnsemble } from '../models/trees.js';
import { registerVersion } from '../registration.js';
import type { NewVersion } from '../registration.js';
import { writeEvaluationPlots } from '../report.js';
import { tracked } from '../tracking.js';
import type { TrackedRun } from '../tracking.js';
import { stratifiedFolds } from '../tuning/folds.js';
import { createFoldPool } from '../tuning/pool.js';
import type { FoldPool } from '../tuning/pool.js';
import { runHalving } from '../tuning/halving.js';
import { runSearch } from '../tuning/search.js';
import type { SearchInput, TrialResult } from '../tuning/search.js';

/**
 * A training run of a model: holds the model's lock (waiting up to `waitSec` for another optimize or retrain),
 * and runs `body` as a tracked registry run that reads `dataset`.
 */
export async function withModelRun<T>(
  deps: CoreDeps,
  args: { model: string; waitSec: number; dataset: Dataset; name: string; tags?: Record<string, string> },
  body: (run: TrackedRun) => Promise<T>,
): Promise<T> {
  const { registry } = deps;
  const release = await registry.acquireLock(`model:${args.model}`, { waitMs: args.waitSec * 1000 });
  try {
    return await tracked(registry, { experiment: EXPERIMENT, name: args.name, tags: args.tags ?? {} }, async (run) => {
      await registry.linkRunDataset(run.id, args.dataset.id, 'input');
      return await body(run);
    });
  } finally {
    await release();
  }
}

/** Fold fits at once unless --jobs says: the native engine uses every core per fit, the wasm engine one. */
export function foldJobs(engine: XgbEngine, jobs: number | undefined): number {
  return jobs ?? (engine.name === 'native' ? 1 : Math.max(1, availableParallelism()));
}

export interface FoldSearch
  extends Pick<SearchInput, 'candidates' | 'metric' | 'earlyStoppingRounds' | 'finished' | 'saveOof' | 'onProgress'> {
  runId: string;
  data: DatasetMatrices;
  engine: XgbEngine;
  jobs: number;
  cv: number;
  seed: number;
  deadline?: number | undefined;
  /** Successive halving instead of cross-validating every candidate in full. */
  halving?: { eta: number; minBudget: number; onRung: (line: string) => void } | undefined;
}

/** The folds of a search and a pool of fold workers over its training rows. */
export interface FoldSetup {
  pool: FoldPool;
  /** Each training row's fold: the same for every worker given the same labels, k and seed. */
  fold: Uint8Array;
}

/** Runs `fn` with the search's folds and a pool of fold workers, closed whatever happens. */
export async function withFoldPool<T>(
  s: Pick<FoldSearch, 'data' | 'engine' | 'jobs' | 'cv' | 'seed'>,
  fn: (setup: FoldSetup) => Promise<T>,
): Promise<T> {
  const fold = stratifiedFolds(s.data.yTrain, s.cv, s.seed);
  const pool = await createFoldPool(s.data.Xtrain, s.data.yTrain, s.engine, s.jobs);
  try {
    return await fn({ pool, fold });
  } finally {
    await pool.close();
  }
}

/** Cross-validates the candidates as trials of run `runId` on a pool of fold workers, closed whatever happens. */
export async function searchFolds(deps: CoreDeps, s: FoldSearch): Promise<TrialResult[]> {
  return withFoldPool(s, async ({ pool, fold }) => {
    const search = {
      registry: deps.registry,
      parentRunId: s.runId,
      candidates: s.candidates,
      y: s.data.yTrain,
      fold,
      k: s.cv,
      metric: s.metric,
      earlyStoppingRounds: s.earlyStoppingRounds,
      pool,
      ...(s.finished ? { finished: s.finished } : {}),
      ...(s.deadline !== undefined ? { deadline: s.deadline } : {}),
      ...(s.saveOof ? { saveOof: s.saveOof } : {}),
      ...(s.onProgress ? { onProgress: s.onProgress } : {}),
    };
    return s.halving ? await runHalving({ ...search, ...s.halving, seed: s.seed }) : await runSearch(search);
  });
}

/** A fitted model as it is registered. */
export interface Fit {
  trees: TreeEnsemble;
  threshold: number;
  /** The recipe as recorded: snake_case names, no thread count. */
  params: Record<string, unknown>;
  /** The engine's own model file for the bundle (none for ml-cart). */
  engineModel: { file: string; bytes: Uint8Array } | null;
  engine: string;
  libraries: Record<string, string>;
}

/** The recipe of a model: a thread count belongs to the machine that trains, so it is neither used nor recorded. */
export function recipe(params: XgbParams): XgbParams {
  const { nthread: _machine, ...rest } = params;
  return rest;
}

/** Trains the recipe on every training row; the engine's model is freed once its trees and bytes are out. */
export async function refit(
  engine: XgbEngine,
  data: DatasetMatrices,
  params: XgbParams,
  threshold: number,
): Promise<Fit> {
  const r = recipe(params);
  const model = await engine.train(data.Xtrain, data.yTrain, r);
  try {
    return {
      trees: model.toTrees(FEATURE_NAMES),
      threshold,
      params: xgbParamRecord(r),
      engineModel: {
        file: model.format === 'xgboost-json' ? 'xgboost_model.json' : 'xgboost_model.bin',
        bytes: model.save(),
      },
      engine: engine.name,
      libraries: { xgboost: engine.libraryVersion, engine: engine.name },
    };
  } finally {
    model.free();
  }
}

export interface Registered {
  version: number;
  /** On every test row of the data set, at the fit's threshold. */
  test: ClassificationMetrics;
  /** The evaluation plots, one URI each in the artifact store. */
  plots: string[];
}

/** Scores the fit on the data set's test rows, keeps the plots as run artifacts and registers the version. */
export async function registerFit(
  deps: CoreDeps,
  runId: string,
  args: {
    model: string;
    dataset: Dataset;
    data: DatasetMatrices;
    kind: NewVersion['kind'];
    fit: Fit;
    metrics?: Record<string, number>;
  },
): Promise<Registered> {
  const { registry, store } = deps;
  const { data, fit } = args;
  const p = compileEnsemble(fit.trees).predictMatrix(data.Xtest);
  const m = classificationMetrics(data.yTest, p, fit.threshold);
  const plots = await writeEvaluationPlots(registry, store, runId, { y: data.yTest, p, metrics: m, trees: fit.trees });
  const { version } = await registerVersion(registry, store, {
    model: args.model,
    runId,
    datasetId: args.dataset.id,
    kind: args.kind,
    trees: fit.trees,
    pipeline: data.pipeline,
    engineModel: fit.engineModel,
    threshold: fit.threshold,
    params: fit.params,
    metrics: {
      test_f1: m.f1,
      test_roc_auc: m.roc_auc,
      test_accuracy: m.accuracy,
      test_log_loss: m.log_loss,
      ...args.metrics,
    },
    engine: fit.engine,
    libraries: fit.libraries,
    createdAt: clockOf(deps)(),
  });
  return { version, test: m, plots: plots.map((path) => `${store.url}/runs/${runId}/${path}`) };
}
