import type { Registry } from '../registry/index.js';
import { moveAlias } from './aliases.js';
import type { CoreDeps } from './context.js';
import { CHALLENGER_ALIAS, CHAMPION_ALIAS } from './context.js';
import { loadDatasetMatrices } from './dataset/load.js';
import { resolveDataset } from './dataset/resolve.js';
import { NotFoundError } from './errors.js';
import { loadEngine } from './models/engine.js';
import type { EngineName } from './models/engine.js';
import { parseXgbParams } from './models/params.js';
import { headToHead, loadPredictor, promoteChampion } from './registration.js';
import { foldJobs, refit, registerFit, searchFolds, withModelRun } from './training/flow.js';

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

  return await withModelRun(
    deps,
    { model: opts.model, waitSec: opts.waitSec, dataset, name: 'retrain' },
    async (run) => {
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
      const [trial] = await searchFolds(deps, {
        runId: run.id,
        data,
        engine,
        jobs: foldJobs(engine, opts.jobs),
        candidates: [params],
        cv: opts.cv,
        seed: opts.seed,
        metric: 'f1',
        earlyStoppingRounds: params.nEstimators + 1,
      });
      const threshold = trial!.cv.threshold;
      const fit = await refit(engine, data, params, threshold);
      const { version, plots } = await registerFit(deps, run.id, {
        model: opts.model,
        dataset,
        data,
        kind: 'xgboost',
        fit,
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
      const actor = `retrain run ${run.id}`;
      await moveAlias(registry, {
        model: opts.model,
        alias: CHALLENGER_ALIAS,
        version,
        expected: await registry.getAlias(opts.model, CHALLENGER_ALIAS),
        actor,
        reason: `challenger trained on data set ${dataset.id}`,
      });
      const verdict = await settleChallenger(registry, {
        model: opts.model,
        champion: championVersion,
        challenger: version,
        championF1,
        challengerF1,
        minDelta: opts.minDelta,
        actor,
      });
      logger.info(verdict.message);
      await registry.setTags(run.id, {
        winner: verdict.winner,
        promoted: String(verdict.promoted),
        challenger_version: String(version),
      });
      return {
        ...base,
        champion: { ...base.champion, test_f1: championF1 },
        trained: true,
        message: verdict.message,
        run_id: run.id,
        challenger: { version, test_f1: challengerF1, threshold },
        test_f1_champion: championF1,
        test_f1_challenger: challengerF1,
        comparison_rows: h.rows,
        excluded_rows: h.excluded,
        plots,
        winner: verdict.winner,
        promoted: verdict.promoted,
      };
    },
  );
}

export interface ChallengerVerdict {
  /** Who scored better by the policy, whether or not the alias could move. */
  winner: 'champion' | 'challenger';
  promoted: boolean;
  message: string;
}

/**
 * The champion/challenger policy: the challenger wins when its F1 beats the champion's by more than `minDelta`,
 * and then takes the champion alias unless its run FAILED or another process moved the alias first.
 */
export async function settleChallenger(
  registry: Registry,
  args: {
    model: string;
    champion: number;
    challenger: number;
    championF1: number;
    challengerF1: number;
    minDelta: number;
    actor: string;
  },
): Promise<ChallengerVerdict> {
  const { model, champion, challenger, minDelta } = args;
  const f1s = `F1 ${args.challengerF1.toFixed(4)} vs ${args.championF1.toFixed(4)}`;
  if (!(args.challengerF1 > args.championF1 + minDelta)) {
    const need = minDelta > 0 ? ` + ${minDelta}` : '';
    return {
      winner: 'champion',
      promoted: false,
      message: `champion v${champion} stays (challenger v${challenger} F1 ${args.challengerF1.toFixed(4)} is not above ${args.championF1.toFixed(4)}${need})`,
    };
  }
  const move = await promoteChampion(registry, {
    model,
    version: challenger,
    expected: champion,
    actor: args.actor,
    reason: `challenger F1 ${args.challengerF1.toFixed(4)} beats champion v${champion}'s ${args.championF1.toFixed(4)}`,
  });
  return move.promoted
    ? {
        winner: 'challenger',
        promoted: true,
        message: `challenger v${challenger} wins (${f1s}); ${CHAMPION_ALIAS} -> v${challenger}`,
      }
    : { winner: 'challenger', promoted: false, message: `challenger v${challenger} won (${f1s}) but ${move.reason}` };
}
