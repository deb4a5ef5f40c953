import type { CoreDeps } from './context.js';
import { CHAMPION_ALIAS } from './context.js';
import { loadDatasetMatrices } from './dataset/load.js';
import type { DatasetMatrices } from './dataset/load.js';
import { resolveDataset } from './dataset/resolve.js';
import { NotFoundError, UsageError } from './errors.js';
import { bestF1Threshold } from './evaluation/metrics.js';
import type { ClassificationMetrics, MetricName } from './evaluation/metrics.js';
import type { Dataset, RunDetail } from '../registry/index.js';
import { FEATURE_NAMES } from './features/pipeline.js';
import { stratifiedSample, trainCart } from './models/cart.js';
import { loadEngine } from './models/engine.js';
import type { EngineChoice, XgbEngine } from './models/engine.js';
import { selectRows } from './models/matrix.js';
import { parseXgbParams } from './models/params.js';
import type { XgbParamsInput } from './models/params.js';
import { compileEnsemble } from './models/trees.js';
import { snakeRecord } from './naming.js';
import { promote } from './registration.js';
import type { PromotePolicy } from './registration.js';
import { foldJobs, refit, registerFit, searchFolds, withModelRun } from './training/flow.js';
import type { Fit } from './training/flow.js';
import { budgetLabel, chooseSearch, defaultTrials, HALVING_DEFAULTS } from './tuning/halving.js';
import type { SearchKind } from './tuning/halving.js';
import { trialsInFlight } from './tuning/search.js';
import type { SearchProgress, TrialResult } from './tuning/search.js';
import { gridCandidates, randomCandidates } from './tuning/space.js';

export interface OptimizeOptions {
  model: string;
  dataset?: string | undefined;
  kind: 'xgboost' | 'cart';
  grid: string;
  /** auto: the grid, or halving above HALVING_MIN_ROWS training rows. */
  search: SearchKind | 'auto';
  /** Candidates of a random or halving search (default: defaultTrials). */
  trials?: number | undefined;
  /** Halving: the share of candidates kept per rung is 1/eta, and the first rung's share of the rows minBudget. */
  eta?: number | undefined;
  minBudget?: number | undefined;
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
  /** A shared search (--study): its trials, and what this worker did of them. */
  study: StudyReport | null;
}

export interface StudyReport {
  name: string;
  /** This worker's run; `run_id` is the run that finished the study and registered the version. */
  worker_run_id: string;
  trials: number;
  trials_failed: number;
  /** Trials this worker ran (a trial a dead worker held counts for the worker that ran it again). */
  trials_here: number;
  finished_here: boolean;
}

export interface OptimizeDeps extends CoreDeps {
  onProgress?: (p: SearchProgress) => void;
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
    ...(opts.search === 'grid' ? { grid: opts.grid } : { trials: opts.trials! }),
    ...(opts.search === 'halving' ? { eta: opts.eta!, min_budget: budgetLabel(opts.minBudget!) } : {}),
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
  if (p.search === 'halving')
    throw new UsageError(
      `run ${prior.id} is a halving search, which cannot be resumed; start it again with 'rainops optimize --search halving'`,
    );
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
  const asked = resumed?.opts ?? input;
  await deps.claimStore?.();
  const dataset = await resolveDataset(deps, asked.dataset);
  const search = chooseSearch(asked.search, dataset.rows.train);
  const opts: OptimizeOptions = {
    ...asked,
    search,
    trials: asked.trials ?? defaultTrials(search),
    eta: asked.eta ?? HALVING_DEFAULTS.eta,
    minBudget: asked.minBudget ?? HALVING_DEFAULTS.minBudget,
  };
  const tags: Record<string, string> = resumed ? { resumed_from: resumed.from } : {};
  return await withModelRun(
    deps,
    { model: opts.model, waitSec: opts.waitSec, dataset, name: 'optimize', tags },
    async (run) => {
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
        : fitCart(opts, data);
      const settled = await registerAndPromote(opts, deps, { runId: run.id, dataset, data, fitted, champion });
      return {
        ...settled,
        resumed: resumed
          ? { from_run_id: resumed.from, trials_reused: fitted.reused, trials_total: fitted.candidates }
          : null,
        study: null,
      };
    },
  );
}

/** Scores the fitted model on the test rows, registers it and applies the promotion policy against `champion`. */
export async function registerAndPromote(
  opts: Pick<OptimizeOptions, 'model' | 'kind' | 'promote'>,
  deps: CoreDeps,
  a: { runId: string; dataset: Dataset; data: DatasetMatrices; fitted: Fitted; champion: number | null },
): Promise<Omit<OptimizeResult, 'resumed' | 'study'>> {
  const { registry, store, logger } = deps;
  const { runId, dataset, data, fitted, champion } = a;
  const {
    version,
    test: m,
    plots,
  } = await registerFit(deps, runId, {
    model: opts.model,
    dataset,
    data,
    kind: opts.kind,
    fit: fitted,
    metrics: fitted.cv ? { cv_score: fitted.cv.score } : {},
  });
  await registry.logMetrics(runId, {
    test_f1: m.f1,
    test_accuracy: m.accuracy,
    test_precision: m.precision,
    test_recall: m.recall,
    test_roc_auc: m.roc_auc,
    test_log_loss: m.log_loss,
    threshold: m.threshold,
  });
  logger.info(
    `registered ${opts.model} v${version} (test F1 ${m.f1.toFixed(4)}, ROC AUC ${m.roc_auc.toFixed(4)}, threshold ${m.threshold.toFixed(3)})`,
  );
  const decision = await promote(registry, store, {
    model: opts.model,
    version,
    datasetId: dataset.id,
    policy: opts.promote,
    expected: champion,
    actor: `optimize run ${runId}`,
  });
  logger.info(
    decision.alias
      ? `${CHAMPION_ALIAS} -> v${version}: ${decision.reason}`
      : `${CHAMPION_ALIAS} not moved: ${decision.reason}`,
  );
  await registry.setTags(runId, { model_version: String(version), promoted: String(decision.alias !== null) });
  return {
    run_id: runId,
    model: opts.model,
    version,
    alias: decision.alias,
    promotion: decision.reason,
    champion_test_f1: decision.championF1,
    dataset_id: dataset.id,
    engine: fitted.engine,
    best_params: fitted.params,
    cv: fitted.cv,
    test: testMetrics(m),
    plots,
  };
}

export interface Fitted extends Fit {
  cv: OptimizeResult['cv'];
  /** Trials of the resumed search taken over without training them again, of this many candidates. */
  reused: number;
  candidates: number;
}

/** A finished trial as its run recorded it. */
export function trialOfRun(r: RunDetail, index: number, params: XgbParamsInput): Omit<TrialResult, 'runId' | 'oof'> {
  return {
    index,
    params,
    score: r.metrics.cv_score!,
    cv: {
      f1: r.metrics.cv_f1!,
      threshold: r.metrics.cv_threshold!,
      roc_auc: r.metrics.cv_roc_auc!,
      accuracy: r.metrics.cv_accuracy!,
      log_loss: r.metrics.cv_log_loss!,
    },
    foldTrees: (r.metricHistory.fold_trees ?? []).map((pt) => pt.value),
  };
}

/** The trials a resumed search finished before, with the out-of-fold predictions they kept. */
async function finishedTrials(
  deps: CoreDeps,
  candidates: XgbParamsInput[],
  finishedRuns: Array<{ id: string; index: number }>,
): Promise<Map<number, TrialResult>> {
  const finished = new Map<number, TrialResult>();
  for (const f of finishedRuns) {
    const r = await deps.registry.getRun(f.id);
    const oof = await deps.store.get(`runs/${f.id}/oof.f32`).catch(() => null);
    if (!oof || r.metrics.cv_score === undefined) continue;
    finished.set(f.index, {
      ...trialOfRun(r, f.index, candidates[f.index]!),
      runId: f.id,
      oof: new Float32Array(oof.buffer.slice(oof.byteOffset, oof.byteOffset + oof.byteLength)),
    });
  }
  return finished;
}

async function searchAndRefit(
  opts: OptimizeOptions,
  deps: OptimizeDeps,
  runId: string,
  data: DatasetMatrices,
  engine: XgbEngine,
  finishedRuns: Array<{ id: string; index: number }>,
): Promise<Fitted> {
  const { store, logger } = deps;
  const candidates: XgbParamsInput[] =
    opts.search === 'grid' ? await gridCandidates(opts.grid) : randomCandidates(opts.trials!, opts.seed);
  const finished = await finishedTrials(deps, candidates, finishedRuns);
  if (opts.resume) logger.info(`resuming: ${finished.size} of ${candidates.length} trials already finished`);
  const jobs = foldJobs(engine, opts.jobs);
  logger.info(
    `${opts.search} search: ${candidates.length} candidates x ${opts.cv} folds, metric ${opts.metric}; ${describeParallelism(engine.name, jobs, opts.cv)}`,
  );
  const trials = await searchFolds(deps, {
    runId,
    data,
    engine,
    jobs,
    candidates,
    cv: opts.cv,
    seed: opts.seed,
    metric: opts.metric,
    earlyStoppingRounds: opts.earlyStoppingRounds,
    finished,
    // A time limit, measured like any duration, not a date: the injected clock does not apply.
    deadline: opts.timeoutSec ? Date.now() + opts.timeoutSec * 1000 : undefined,
    saveOof: async (trialRunId, oof) => {
      await store.put(`runs/${trialRunId}/oof.f32`, new Uint8Array(oof.buffer, oof.byteOffset, oof.byteLength));
    },
    ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
    halving:
      opts.search === 'halving'
        ? { eta: opts.eta!, minBudget: opts.minBudget!, onRung: (line: string) => logger.info(line) }
        : undefined,
  });
  if (trials.length === 0)
    throw new NotFoundError('optimize: no trial finished before --timeout; allow more time or fewer candidates');
  const best = trials.reduce((a, b) => (b.score > a.score ? b : a));
  return {
    ...(await refitBest(opts, deps, { runId, data, engine, best, finished: trials.length })),
    reused: finished.size,
    candidates: candidates.length,
  };
}

/** The search's outcome as the refit needs it: the best trial's recipe, score, threshold and trees per fold. */
export type BestTrial = Pick<TrialResult, 'index' | 'params' | 'score' | 'foldTrees'> & {
  cv: Pick<TrialResult['cv'], 'f1' | 'roc_auc' | 'threshold'>;
};

/** Records the best trial on the search's run and refits its recipe on every training row, with the trees its folds kept. */
export async function refitBest(
  opts: Pick<OptimizeOptions, 'metric' | 'cv'>,
  deps: CoreDeps,
  a: { runId: string; data: DatasetMatrices; engine: XgbEngine; best: BestTrial; finished: number },
): Promise<Omit<Fitted, 'reused' | 'candidates'>> {
  const { best, data } = a;
  const nEstimators = Math.max(1, Math.round(best.foldTrees.reduce((x, y) => x + y, 0) / best.foldTrees.length));
  deps.logger.info(
    `best trial ${best.index}: ${opts.metric} ${best.score.toFixed(4)}; refitting on all ${data.Xtrain.rows} training rows with ${nEstimators} trees`,
  );
  await deps.registry.logMetrics(a.runId, {
    cv_score: best.score,
    cv_f1: best.cv.f1,
    cv_roc_auc: best.cv.roc_auc,
    best_trial: best.index,
    trials_finished: a.finished,
  });
  const fit = await refit(a.engine, data, { ...parseXgbParams(best.params), nEstimators }, best.cv.threshold);
  return {
    ...fit,
    cv: {
      metric: opts.metric,
      score: best.score,
      f1: best.cv.f1,
      roc_auc: best.cv.roc_auc,
      threshold: best.cv.threshold,
      trials: a.finished,
      folds: opts.cv,
    },
  };
}

/** The ml-cart baseline: a tree on a stratified sample; its threshold is tuned on other training rows. */
function fitCart(opts: OptimizeOptions, data: DatasetMatrices): Fitted {
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
    engine: 'ml-cart',
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
