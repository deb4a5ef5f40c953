import { availableParallelism } from 'node:os';
import type { Dataset } from '../registry/index.js';
import type { CoreDeps } from './context.js';
import { CHAMPION_ALIAS, EXPERIMENT } from './context.js';
import { loadDatasetMatrices } from './dataset/load.js';
import type { DatasetMatrices } from './dataset/load.js';
import { NotFoundError } from './errors.js';
import { bestF1Threshold, classificationMetrics } from './evaluation/metrics.js';
import type { ClassificationMetrics, MetricName } from './evaluation/metrics.js';
import { FEATURE_NAMES } from './features/pipeline.js';
import { stratifiedSample, trainCart } from './models/cart.js';
import { loadEngine } from './models/engine.js';
import type { EngineChoice, XgbEngine } from './models/engine.js';
import { selectRows } from './models/matrix.js';
import { parseXgbParams, xgbParamRecord } from './models/params.js';
import type { XgbParamsInput } from './models/params.js';
import { compileEnsemble } from './models/trees.js';
import type { TreeEnsemble } from './models/trees.js';
import { snakeRecord } from './naming.js';
import { promote, registerVersion } from './registration.js';
import type { PromotePolicy, PromotionDecision } from './registration.js';
import { writeEvaluationPlots } from './report.js';
import { tracked } from './tracking.js';
import { stratifiedFolds } from './tuning/folds.js';
import { createFoldPool } from './tuning/pool.js';
import { runSearch, trialsInFlight } from './tuning/search.js';
import type { SearchProgress, TrialResult } from './tuning/search.js';
import { gridCandidates, randomCandidates } from './tuning/space.js';

export interface OptimizeOptions {
  model: string;
  dataset?: string | undefined;
  kind: 'xgboost' | 'cart';
  grid: string;
  search: 'grid' | 'random';
  trials: number;
  timeoutSec?: number | undefined;
  cv: number;
  metric: MetricName;
  jobs?: number | undefined;
  engine: EngineChoice;
  promote: PromotePolicy;
  seed: number;
  earlyStoppingRounds: number;
  /** Seconds to wait for another optimize or retrain of the same model to finish. */
  waitSec: number;
  resume?: string | undefined;
}

export interface TestMetrics {
  f1: number;
  accuracy: number;
  precision: number;
  recall: number;
  roc_auc: number;
  log_loss: number;
  threshold: number;
  confusion_matrix: [[number, number], [number, number]];
}

export interface OptimizeResult {
  run_id: string;
  model: string;
  version: number;
  alias: string | null;
  promotion: string;
  champion_test_f1: number | null;
  dataset_id: string;
  engine: string;
  best_params: Record<string, unknown>;
  cv: {
    metric: MetricName;
    score: number;
    f1: number;
    roc_auc: number;
    threshold: number;
    trials: number;
    folds: number;
  } | null;
  /** Scored on every test row of the data set. */
  test: TestMetrics;
  /** Where the evaluation plots (SVG) are: one URI each in the artifact store. */
  plots: string[];
  /** The interrupted search this run continued (its full id), and how many of its trials were reused. */
  resumed: { from_run_id: string; trials_reused: number; trials_total: number } | null;
}

export interface OptimizeDeps extends CoreDeps {
  onProgress?: (p: SearchProgress) => void;
}

export async function resolveDataset(deps: CoreDeps, id: string | undefined): Promise<Dataset> {
  if (id) return await deps.registry.getDataset(id);
  const newest = await deps.registry.newestDataset();
  if (!newest) throw new NotFoundError("no data set yet; create one with 'rainops etl --source weatherAUS.csv'");
  return newest;
}

const testMetrics = (m: ClassificationMetrics): TestMetrics => ({
  f1: m.f1,
  accuracy: m.accuracy,
  precision: m.precision,
  recall: m.recall,
  roc_auc: m.roc_auc,
  log_loss: m.log_loss,
  threshold: m.threshold,
  confusion_matrix: m.confusion_matrix,
});

/** The parameters that apply to this search: a grid search has no trial count, a random one no grid, ml-cart neither. */
function searchParams(opts: OptimizeOptions, datasetId: string): Record<string, string | number> {
  const common = {
    model: opts.model,
    model_kind: opts.kind,
    dataset_id: datasetId,
    seed: opts.seed,
    promote: opts.promote,
  };
  if (opts.kind === 'cart') return common;
  return {
    ...common,
    search: opts.search,
    ...(opts.search === 'grid' ? { grid: opts.grid } : { trials: opts.trials }),
    cv: opts.cv,
    metric: opts.metric,
    early_stopping_rounds: opts.earlyStoppingRounds,
    engine: opts.engine,
    ...(opts.timeoutSec ? { timeout_seconds: opts.timeoutSec } : {}),
  };
}

/** The search settings a run recorded, so --resume repeats exactly the same candidates and folds. */
const SEARCH_KEYS = [
  'search',
  'cv',
  'metric',
  'seed',
  'early_stopping_rounds',
  'model_kind',
  'engine',
  'dataset_id',
] as const;

interface Resumed {
  opts: OptimizeOptions;
  from: string;
  finishedRuns: Array<{ id: string; index: number }>;
}

async function resumedOptions(deps: CoreDeps, opts: OptimizeOptions): Promise<Resumed> {
  const prior = await deps.registry.getRun(opts.resume!);
  const p = prior.params;
  const missing = [...SEARCH_KEYS, p.search === 'random' ? 'trials' : 'grid'].filter((k) => p[k] === undefined);
  if (prior.name !== 'optimize' || p.model_kind === 'cart' || missing.length) {
    throw new NotFoundError(
      `run ${prior.id} is not an XGBoost search that can be resumed${missing.length ? ` (it records no ${missing.join(', ')})` : ''}; name an optimize run, e.g. from 'rainops runs list'`,
    );
  }
  const children = await deps.registry.listRuns({ parentRunId: prior.id, status: 'FINISHED' });
  return {
    from: prior.id,
    opts: {
      ...opts,
      dataset: p.dataset_id!,
      grid: p.grid ?? opts.grid,
      search: p.search as OptimizeOptions['search'],
      trials: p.trials === undefined ? opts.trials : Number(p.trials),
      cv: Number(p.cv),
      metric: p.metric as MetricName,
      seed: Number(p.seed),
      earlyStoppingRounds: Number(p.early_stopping_rounds),
      kind: p.model_kind as OptimizeOptions['kind'],
      engine: p.engine as EngineChoice,
    },
    finishedRuns: children
      .filter((c) => c.tags.trial !== undefined)
      .map((c) => ({ id: c.id, index: Number(c.tags.trial) })),
  };
}

/** Searches hyperparameters with cross-validation, refits the best, evaluates, registers and maybe promotes. */
export async function optimize(input: OptimizeOptions, deps: OptimizeDeps): Promise<OptimizeResult> {
  const { registry, store, logger } = deps;
  const resumed = input.resume ? await resumedOptions(deps, input) : null;
  const opts = resumed?.opts ?? input;
  await deps.claimStore?.();
  const dataset = await resolveDataset(deps, opts.dataset);
  const release = await registry.acquireLock(`model:${opts.model}`, { waitMs: opts.waitSec * 1000 });
  try {
    return await tracked(
      registry,
      { experiment: EXPERIMENT, name: 'optimize', tags: resumed ? { resumed_from: resumed.from } : {} },
      async (run) => {
        await registry.linkRunDataset(run.id, dataset.id, 'input');
        const champion = await registry.getAlias(opts.model, CHAMPION_ALIAS);
        logger.info(`data set ${dataset.id}; loading ${dataset.rows.train} train and ${dataset.rows.test} test rows`);
        const data = await loadDatasetMatrices(store, dataset.id);
        const engine = opts.kind === 'xgboost' ? await loadEngine(opts.engine) : null;
        if (engine)
          logger.info(
            `engine: ${engine.name} (XGBoost ${engine.libraryVersion})${engine.note ? `; ${engine.note}` : ''}`,
          );
        await registry.logParams(run.id, searchParams(opts, dataset.id));
        await registry.setTags(run.id, { engine: engine?.name ?? 'ml-cart' });

        const fitted = engine
          ? await searchAndRefit(opts, deps, run.id, data, engine, resumed?.finishedRuns ?? [])
          : await fitCart(opts, data);
        const p = compileEnsemble(fitted.trees).predictMatrix(data.Xtest);
        const m = classificationMetrics(data.yTest, p, fitted.threshold);
        const test = testMetrics(m);
        await registry.logMetrics(run.id, {
          test_f1: m.f1,
          test_accuracy: m.accuracy,
          test_precision: m.precision,
          test_recall: m.recall,
          test_roc_auc: m.roc_auc,
          test_log_loss: m.log_loss,
          threshold: m.threshold,
        });
        const plots = await writeEvaluationPlots(registry, store, run.id, {
          y: data.yTest,
          p,
          metrics: m,
          trees: fitted.trees,
        });

        const { version } = await registerVersion(registry, store, {
          model: opts.model,
          runId: run.id,
          datasetId: dataset.id,
          kind: opts.kind,
          trees: fitted.trees,
          pipeline: data.pipeline,
          engineModel: fitted.engineModel,
          threshold: fitted.threshold,
          params: fitted.params,
          metrics: {
            test_f1: m.f1,
            test_roc_auc: m.roc_auc,
            test_accuracy: m.accuracy,
            test_log_loss: m.log_loss,
            ...(fitted.cv ? { cv_score: fitted.cv.score } : {}),
          },
          engine: engine?.name ?? 'ml-cart',
          libraries: fitted.libraries,
        });
        logger.info(
          `registered ${opts.model} v${version} (test F1 ${m.f1.toFixed(4)}, ROC AUC ${m.roc_auc.toFixed(4)}, threshold ${m.threshold.toFixed(3)})`,
        );
        const decision: PromotionDecision = await promote(registry, store, {
          model: opts.model,
          version,
          datasetId: dataset.id,
          policy: opts.promote,
          expected: champion,
          actor: `optimize run ${run.id}`,
        });
        logger.info(
          decision.alias
            ? `${CHAMPION_ALIAS} -> v${version}: ${decision.reason}`
            : `${CHAMPION_ALIAS} not moved: ${decision.reason}`,
        );
        await registry.setTags(run.id, { model_version: String(version), promoted: String(decision.alias !== null) });
        return {
          run_id: run.id,
          model: opts.model,
          version,
          alias: decision.alias,
          promotion: decision.reason,
          champion_test_f1: decision.championF1,
          dataset_id: dataset.id,
          engine: engine?.name ?? 'ml-cart',
          best_params: fitted.params,
          cv: fitted.cv,
          test,
          plots: plots.map((path) => `${store.url}/runs/${run.id}/${path}`),
          resumed: resumed
            ? { from_run_id: resumed.from, trials_reused: fitted.reused, trials_total: fitted.candidates }
            : null,
        };
      },
    );
  } finally {
    await release();
  }
}

interface Fitted {
  trees: TreeEnsemble;
  threshold: number;
  params: Record<string, unknown>;
  engineModel: { file: string; bytes: Uint8Array } | null;
  libraries: Record<string, string>;
  cv: OptimizeResult['cv'];
  /** Trials of the resumed search taken over without training them again, of this many candidates. */
  reused: number;
  candidates: number;
}

async function searchAndRefit(
  opts: OptimizeOptions,
  deps: OptimizeDeps,
  runId: string,
  data: DatasetMatrices,
  engine: XgbEngine,
  finishedRuns: Array<{ id: string; index: number }>,
): Promise<Fitted> {
  const { registry, store, logger } = deps;
  const candidates: XgbParamsInput[] =
    opts.search === 'grid' ? await gridCandidates(opts.grid) : randomCandidates(opts.trials, opts.seed);
  const fold = stratifiedFolds(data.yTrain, opts.cv, opts.seed);
  const finished = new Map<number, TrialResult>();
  for (const f of finishedRuns) {
    const r = await registry.getRun(f.id);
    const oof = await store.get(`runs/${f.id}/oof.f32`).catch(() => null);
    if (!oof || r.metrics.cv_score === undefined) continue;
    finished.set(f.index, {
      index: f.index,
      runId: f.id,
      params: candidates[f.index]!,
      score: r.metrics.cv_score,
      cv: {
        f1: r.metrics.cv_f1!,
        threshold: r.metrics.cv_threshold!,
        roc_auc: r.metrics.cv_roc_auc!,
        accuracy: r.metrics.cv_accuracy!,
        log_loss: r.metrics.cv_log_loss!,
      },
      oof: new Float32Array(oof.buffer.slice(oof.byteOffset, oof.byteOffset + oof.byteLength)),
      foldTrees: (r.metricHistory.fold_trees ?? []).map((pt) => pt.value),
    });
  }
  if (opts.resume) logger.info(`resuming: ${finished.size} of ${candidates.length} trials already finished`);
  // The native engine uses every core per fit; the wasm engine is single-threaded, so it runs folds in parallel.
  const jobs = opts.jobs ?? (engine.name === 'native' ? 1 : Math.max(1, availableParallelism()));
  logger.info(
    `${opts.search} search: ${candidates.length} candidates x ${opts.cv} folds, metric ${opts.metric}; ${describeParallelism(engine.name, jobs, opts.cv)}`,
  );
  const pool = await createFoldPool(data.Xtrain, data.yTrain, engine, jobs);
  let trials: TrialResult[];
  try {
    trials = await runSearch({
      registry,
      parentRunId: runId,
      candidates,
      y: data.yTrain,
      fold,
      k: opts.cv,
      metric: opts.metric,
      earlyStoppingRounds: opts.earlyStoppingRounds,
      pool,
      finished,
      ...(opts.timeoutSec ? { deadline: Date.now() + opts.timeoutSec * 1000 } : {}),
      saveOof: async (trialRunId, oof) => {
        await store.put(`runs/${trialRunId}/oof.f32`, new Uint8Array(oof.buffer, oof.byteOffset, oof.byteLength));
      },
      ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
    });
  } finally {
    await pool.close();
  }
  if (trials.length === 0)
    throw new NotFoundError('optimize: no trial finished before --timeout; allow more time or fewer candidates');
  const best = trials.reduce((a, b) => (b.score > a.score ? b : a));
  const nEstimators = Math.max(1, Math.round(best.foldTrees.reduce((a, b) => a + b, 0) / best.foldTrees.length));
  const params = { ...parseXgbParams(best.params), nEstimators };
  delete (params as { nthread?: number }).nthread;
  const recorded = xgbParamRecord(params);
  logger.info(
    `best trial ${best.index}: ${opts.metric} ${best.score.toFixed(4)}; refitting on all ${data.Xtrain.rows} training rows with ${nEstimators} trees`,
  );
  await registry.logMetrics(runId, {
    cv_score: best.score,
    cv_f1: best.cv.f1,
    cv_roc_auc: best.cv.roc_auc,
    best_trial: best.index,
    trials_finished: trials.length,
  });
  const model = await engine.train(data.Xtrain, data.yTrain, params);
  try {
    return {
      trees: model.toTrees(FEATURE_NAMES),
      threshold: best.cv.threshold,
      params: recorded,
      engineModel: {
        file: model.format === 'xgboost-json' ? 'xgboost_model.json' : 'xgboost_model.bin',
        bytes: model.save(),
      },
      libraries: { xgboost: engine.libraryVersion, engine: engine.name },
      cv: {
        metric: opts.metric,
        score: best.score,
        f1: best.cv.f1,
        roc_auc: best.cv.roc_auc,
        threshold: best.cv.threshold,
        trials: trials.length,
        folds: opts.cv,
      },
      reused: finished.size,
      candidates: candidates.length,
    };
  } finally {
    model.free();
  }
}

/** The ml-cart baseline: a tree on a stratified sample; its threshold is tuned on other training rows. */
async function fitCart(opts: OptimizeOptions, data: DatasetMatrices): Promise<Fitted> {
  const sampleSize = Math.min(5000, data.Xtrain.rows);
  const params = { maxDepth: 8, minNumSamples: 20, seed: opts.seed, sampleSize };
  const cart = trainCart(data.Xtrain, data.yTrain, FEATURE_NAMES, params);
  const inSample = new Set(cart.sample);
  const rest = Array.from({ length: data.Xtrain.rows }, (_, i) => i).filter((i) => !inSample.has(i));
  const restY = Float32Array.from(rest, (i) => data.yTrain[i]!);
  const pick = stratifiedSample(restY, Math.min(20_000, rest.length), opts.seed + 1);
  const holdout = Array.from(pick, (k) => rest[k]!);
  const p = compileEnsemble(cart.ensemble).predictMatrix(selectRows(data.Xtrain, holdout));
  const { threshold } = bestF1Threshold(
    Float32Array.from(holdout, (i) => data.yTrain[i]!),
    p,
  );
  return {
    trees: cart.ensemble,
    threshold,
    params: snakeRecord(params),
    engineModel: null,
    libraries: { 'ml-cart': '2' },
    cv: null,
    reused: 0,
    candidates: 1,
  };
}

/** What runs at once, as the progress lines should say it. */
function describeParallelism(engine: string, jobs: number, k: number): string {
  const fits =
    jobs <= 1
      ? `one fold fit at a time${engine === 'native' ? ' (the native engine uses every core in each fit)' : ''}`
      : `${jobs} fold fits at a time on worker threads`;
  const trials = trialsInFlight(jobs, k);
  return trials > 1 ? `${fits}, up to ${trials} trials overlapping` : fits;
}
