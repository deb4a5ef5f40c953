import { availableParallelism } from 'node:os';
import type { CoreDeps } from './context.js';
import { CHALLENGER_ALIAS, CHAMPION_ALIAS, EXPERIMENT } from './context.js';
import { loadDatasetMatrices } from './dataset/load.js';
import { ConflictError, NotFoundError } from './errors.js';
import { classificationMetrics } from './evaluation/metrics.js';
import { FEATURE_NAMES } from './features/pipeline.js';
import { loadEngine } from './models/engine.js';
import type { EngineName } from './models/engine.js';
import { parseXgbParams, xgbParamRecord } from './models/params.js';
import { compileEnsemble } from './models/trees.js';
import { resolveDataset } from './optimize.js';
import { failedRunReason, headToHead, loadPredictor, registerVersion } from './registration.js';
import { writeEvaluationPlots } from './report.js';
import { tracked } from './tracking.js';
import { stratifiedFolds } from './tuning/folds.js';
import { createFoldPool } from './tuning/pool.js';
import { runSearch } from './tuning/search.js';

export interface RetrainOptions {
  model: string;
  dataset?: string | undefined;
  force: boolean;
  minDelta: number;
  cv: number;
  seed: number;
  jobs?: number | undefined;
  waitSec: number;
}

export interface RetrainResult {
  trained: boolean;
  message: string;
  run_id: string | null;
  dataset_id: string;
  champion: { version: number; dataset_id: string; test_f1: number | null };
  challenger: { version: number; test_f1: number; threshold: number } | null;
  test_f1_champion: number | null;
  test_f1_challenger: number | null;
  winner: 'champion' | 'challenger' | null;
  promoted: boolean;
  /** Test rows of `dataset_id` both were scored on: its test rows minus those the champion trained on (`excluded_rows`). */
  comparison_rows?: number;
  excluded_rows?: number;
  /** The challenger's evaluation plots (SVG), one URI each in the artifact store. */
  plots?: string[];
}

/** Champion/challenger: retrains the champion's recipe on the newest data and promotes it only if it is strictly better. */
export async function retrain(opts: RetrainOptions, deps: CoreDeps): Promise<RetrainResult> {
  const { registry, store, logger } = deps;
  await deps.claimStore?.();
  const championVersion = await registry.getAlias(opts.model, CHAMPION_ALIAS);
  if (championVersion === null)
    throw new NotFoundError(
      `model ${opts.model} has no ${CHAMPION_ALIAS} champion yet; train one with 'rainops optimize'`,
    );
  const champion = await registry.getModelVersion(opts.model, championVersion);
  const dataset = await resolveDataset(deps, opts.dataset);
  const base = {
    dataset_id: dataset.id,
    champion: { version: championVersion, dataset_id: champion.datasetId, test_f1: null },
  };
  if (dataset.id === champion.datasetId && !opts.force) {
    // The caller prints the message: it is the result, not progress.
    const message = `no newer data set than the champion's ${champion.datasetId}; nothing to retrain (use --force to retrain anyway)`;
    return {
      ...base,
      trained: false,
      message,
      run_id: null,
      challenger: null,
      test_f1_champion: null,
      test_f1_challenger: null,
      winner: null,
      promoted: false,
    };
  }

  const release = await registry.acquireLock(`model:${opts.model}`, { waitMs: opts.waitSec * 1000 });
  try {
    return await tracked(registry, { experiment: EXPERIMENT, name: 'retrain' }, async (run) => {
      await registry.linkRunDataset(run.id, dataset.id, 'input');
      const { threshold: _t, ...championParams } = champion.params as Record<string, unknown> & { threshold?: number };
      const params = parseXgbParams(championParams);
      await registry.logParams(run.id, {
        model: opts.model,
        champion_version: championVersion,
        dataset_id: dataset.id,
        champion_dataset_id: champion.datasetId,
        cv: opts.cv,
        seed: opts.seed,
        min_delta: opts.minDelta,
        engine: champion.engine,
        force: opts.force,
      });
      logger.info(
        `challenger: ${opts.model} v${championVersion}'s recipe (${champion.engine}) on data set ${dataset.id}`,
      );
      const data = await loadDatasetMatrices(store, dataset.id);
      const engine = await loadEngine(champion.engine as EngineName);

      // Out-of-fold predictions with the champion's parameters choose the challenger's threshold.
      const jobs = opts.jobs ?? (engine.name === 'native' ? 1 : Math.max(1, availableParallelism()));
      const pool = await createFoldPool(data.Xtrain, data.yTrain, engine, jobs);
      let threshold: number;
      try {
        const [trial] = await runSearch({
          registry,
          parentRunId: run.id,
          candidates: [params],
          y: data.yTrain,
          fold: stratifiedFolds(data.yTrain, opts.cv, opts.seed),
          k: opts.cv,
          metric: 'f1',
          earlyStoppingRounds: params.nEstimators + 1,
          pool,
        });
        threshold = trial!.cv.threshold;
      } finally {
        await pool.close();
      }
      const model = await engine.train(data.Xtrain, data.yTrain, params);
      let trees: ReturnType<typeof model.toTrees>;
      let bytes: Uint8Array;
      let format: string;
      try {
        trees = model.toTrees(FEATURE_NAMES);
        bytes = model.save();
        format = model.format;
      } finally {
        model.free();
      }
      const p = compileEnsemble(trees).predictMatrix(data.Xtest);
      const m = classificationMetrics(data.yTest, p, threshold);
      const plots = await writeEvaluationPlots(registry, store, run.id, { y: data.yTest, p, metrics: m, trees });
      const { version } = await registerVersion(registry, store, {
        model: opts.model,
        runId: run.id,
        datasetId: dataset.id,
        kind: 'xgboost',
        trees,
        pipeline: data.pipeline,
        engineModel: { file: format === 'xgboost-json' ? 'xgboost_model.json' : 'xgboost_model.bin', bytes },
        threshold,
        params: xgbParamRecord({ ...params, nthread: undefined }),
        metrics: { test_f1: m.f1, test_roc_auc: m.roc_auc, test_accuracy: m.accuracy, test_log_loss: m.log_loss },
        engine: engine.name,
        libraries: { xgboost: engine.libraryVersion, engine: engine.name },
      });
      // Both models are scored on the same raw test rows, each through its own fitted pipeline, leaving
      // out rows the champion trained on (an earlier data set's training rows can be a later one's test rows).
      const h = await headToHead(
        store,
        dataset.id,
        await loadPredictor(registry, store, opts.model, championVersion),
        await loadPredictor(registry, store, opts.model, version),
      );
      const { championF1, challengerF1 } = h;
      await registry.logMetrics(run.id, {
        test_f1_champion: championF1,
        test_f1_challenger: challengerF1,
        comparison_rows: h.rows,
        excluded_rows: h.excluded,
        threshold,
      });
      logger.info(
        `compared on ${h.rows} test rows of ${dataset.id} (${h.excluded} left out: the champion trained on them)`,
      );
      const previousChallenger = await registry.getAlias(opts.model, CHALLENGER_ALIAS);
      await registry.setAlias({
        model: opts.model,
        alias: CHALLENGER_ALIAS,
        version,
        expected: previousChallenger,
        actor: `retrain run ${run.id}`,
        reason: `challenger trained on data set ${dataset.id}`,
      });

      const wins = challengerF1 > championF1 + opts.minDelta;
      const blocked = wins ? failedRunReason(registry, opts.model, version) : null;
      let promoted = false;
      let message: string;
      if (blocked) {
        message = `challenger v${version} won (F1 ${challengerF1.toFixed(4)} vs ${championF1.toFixed(4)}) but ${blocked}`;
      } else if (wins) {
        try {
          await registry.setAlias({
            model: opts.model,
            alias: CHAMPION_ALIAS,
            version,
            expected: championVersion,
            actor: `retrain run ${run.id}`,
            reason: `challenger F1 ${challengerF1.toFixed(4)} beats champion v${championVersion}'s ${championF1.toFixed(4)}`,
          });
          promoted = true;
          message = `challenger v${version} wins (F1 ${challengerF1.toFixed(4)} vs ${championF1.toFixed(4)}); ${CHAMPION_ALIAS} -> v${version}`;
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
          message = `challenger v${version} won (F1 ${challengerF1.toFixed(4)} vs ${championF1.toFixed(4)}) but ${err.message}`;
        }
      } else {
        const need = opts.minDelta > 0 ? ` + ${opts.minDelta}` : '';
        message = `champion v${championVersion} stays (challenger v${version} F1 ${challengerF1.toFixed(4)} is not above ${championF1.toFixed(4)}${need})`;
      }
      logger.info(message);
      await registry.setTags(run.id, {
        winner: wins ? 'challenger' : 'champion',
        promoted: String(promoted),
        challenger_version: String(version),
      });
      return {
        ...base,
        champion: { ...base.champion, test_f1: championF1 },
        trained: true,
        message,
        run_id: run.id,
        challenger: { version, test_f1: challengerF1, threshold },
        test_f1_champion: championF1,
        test_f1_challenger: challengerF1,
        comparison_rows: h.rows,
        excluded_rows: h.excluded,
        plots: plots.map((path) => `${store.url}/runs/${run.id}/${path}`),
        winner: wins ? 'challenger' : 'champion',
        promoted,
      };
    });
  } finally {
    await release();
  }
}
