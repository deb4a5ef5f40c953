import type { Registry } from '../../registry/index.js';
import { EXPERIMENT } from '../context.js';
import { RainopsError } from '../errors.js';
import { bestF1Threshold, classificationMetrics, rocAuc, scoreMetric } from '../evaluation/metrics.js';
import type { MetricName } from '../evaluation/metrics.js';
import { xgbParamRecord } from '../models/params.js';
import type { XgbParamsInput } from '../models/params.js';
import { tracked } from '../tracking.js';
import type { FoldResult } from './fit-fold.js';
import { foldIndices } from './folds.js';
import type { FoldPool } from './pool.js';

export interface TrialResult {
  index: number;
  runId: string;
  params: XgbParamsInput;
  /** The search metric on out-of-fold predictions (F1 at the out-of-fold threshold for f1). */
  score: number;
  cv: { f1: number; threshold: number; roc_auc: number; accuracy: number; log_loss: number };
  /** Out-of-fold probabilities for every training row. */
  oof: Float32Array;
  /** Trees each fold kept (best iteration + 1). */
  foldTrees: number[];
}

export interface SearchProgress {
  /** Trials settled: finished or failed. */
  done: number;
  total: number;
  /** Trials that failed (their runs are FAILED with the reason); the search goes on without them. */
  failed: number;
  best: number | null;
  etaMs: number | null;
  /** The trial just finished; `ms` runs from its first fold's start to its end, so trials run one after another add up to the wall time. */
  last?: { index: number; score: number; ms: number };
  /** The trial that just failed, and why. */
  lastFailure?: { index: number; message: string };
}

/** Trials cross-validated at once: one when fits run one at a time, else enough to keep every worker busy at a trial's tail. */
export function trialsInFlight(jobs: number, k: number): number {
  return jobs <= 1 ? 1 : Math.ceil(jobs / k) + 1;
}

export interface SearchInput {
  registry: Registry;
  parentRunId: string;
  candidates: XgbParamsInput[];
  y: Float32Array;
  fold: Uint8Array;
  k: number;
  metric: MetricName;
  earlyStoppingRounds: number;
  pool: FoldPool;
  /** Trials already finished (a resumed search): reused, not trained again. */
  finished?: Map<number, TrialResult>;
  deadline?: number;
  /** Keeps a trial's out-of-fold predictions so a resumed search can reuse the trial. */
  saveOof?: (trialRunId: string, oof: Float32Array) => Promise<void>;
  onProgress?: (p: SearchProgress) => void;
  /** Each candidate's number in the whole search (default: its position), for a search that runs a subset. */
  indices?: readonly number[];
  /** More tags for every trial's run (a halving search's rung and budget). */
  trialTags?: Record<string, string>;
}

/**
 * Cross-validates every candidate as a child run of the search; trials share the pool's workers. A trial whose
 * fold fails (a crashed worker, an engine error) is marked FAILED with the reason and the search goes on; it
 * throws only when no trial at all finished.
 */
export async function runSearch(input: SearchInput): Promise<TrialResult[]> {
  const { registry, candidates, y, fold, k, pool } = input;
  const folds = Array.from({ length: k }, (_, f) => foldIndices(fold, f));
  const started = Date.now();
  const results: TrialResult[] = [...(input.finished?.values() ?? [])];
  let best: number | null = results.length ? Math.max(...results.map((r) => r.score)) : null;
  let trained = 0;
  const failures: Array<{ index: number; message: string }> = [];
  const pending = candidates
    .map((params, i) => ({ params, index: input.indices?.[i] ?? i }))
    .filter(({ index }) => !input.finished?.has(index));
  const report = (last?: SearchProgress['last'], lastFailure?: SearchProgress['lastFailure']) => {
    const done = results.length + failures.length;
    const left = candidates.length - done;
    const perTrial = trained > 0 ? (Date.now() - started) / trained : null;
    input.onProgress?.({
      done,
      total: candidates.length,
      failed: failures.length,
      best,
      etaMs: perTrial === null ? null : perTrial * left,
      ...(last ? { last } : {}),
      ...(lastFailure ? { lastFailure } : {}),
    });
  };
  report();

  const trial = async ({ params, index }: { params: XgbParamsInput; index: number }) => {
    try {
      await attempt({ params, index });
    } catch (err) {
      // tracked() has marked the trial's run FAILED with this message.
      const failure = { index, message: err instanceof Error ? err.message : String(err) };
      failures.push(failure);
      report(undefined, failure);
    }
  };

  const attempt = async ({ params, index }: { params: XgbParamsInput; index: number }) => {
    if (input.deadline !== undefined && Date.now() > input.deadline) return;
    // A trial's folds may wait behind another trial's; its time starts when its first fold does.
    let firstStart = Infinity;
    const result = await tracked(
      registry,
      {
        experiment: EXPERIMENT,
        name: `trial-${index}`,
        parentRunId: input.parentRunId,
        tags: { ...input.trialTags, trial: String(index) },
      },
      async (run) => {
        await registry.logParams(run.id, { ...(xgbParamRecord(params) as Record<string, number>), trial: index });
        const oof = new Float32Array(y.length);
        // Every fold settles before the trial fails, so nothing writes to its run after it is closed.
        const settled = await Promise.allSettled(
          folds.map(async ({ train, valid }, f) => {
            const r = await pool.run({ params, train, valid, earlyStoppingRounds: input.earlyStoppingRounds });
            firstStart = Math.min(firstStart, performance.now() - r.ms);
            const yv = Float32Array.from(valid, (i) => y[i]!);
            valid.forEach((row, j) => {
              oof[row] = r.predictions[j]!;
            });
            await registry.logMetrics(
              run.id,
              { fold_roc_auc: rocAuc(yv, r.predictions), fold_trees: r.bestIteration + 1, fold_seconds: r.ms / 1000 },
              f,
            );
            return r;
          }),
        );
        const failed = settled.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
        const fits = settled.map((r) => (r as PromiseFulfilledResult<FoldResult>).value);
        const tuned = bestF1Threshold(y, oof);
        const at = classificationMetrics(y, oof, tuned.threshold);
        const cv = {
          f1: tuned.f1,
          threshold: tuned.threshold,
          roc_auc: at.roc_auc,
          accuracy: classificationMetrics(y, oof, 0.5).accuracy,
          log_loss: at.log_loss,
        };
        const score = input.metric === 'f1' ? cv.f1 : scoreMetric(input.metric, y, oof, 0.5);
        const foldTrees = fits.map((r) => r.bestIteration + 1);
        await input.saveOof?.(run.id, oof);
        await registry.logMetrics(run.id, {
          cv_f1: cv.f1,
          cv_threshold: cv.threshold,
          cv_roc_auc: cv.roc_auc,
          cv_accuracy: cv.accuracy,
          cv_log_loss: cv.log_loss,
          cv_score: score,
          cv_trees_mean: foldTrees.reduce((a, b) => a + b, 0) / k,
        });
        return { index, runId: run.id, params, score, cv, oof, foldTrees };
      },
    );
    trained++;
    results.push(result);
    if (best === null || result.score > best) best = result.score;
    report({ index, score: result.score, ms: Math.round(performance.now() - firstStart) });
  };

  const inFlight = trialsInFlight(pool.jobs, k);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, pending.length) }, async () => {
      while (next < pending.length) await trial(pending[next++]!);
    }),
  );
  if (failures.length > 0) {
    await registry.logMetrics(input.parentRunId, { trials_failed: failures.length });
    if (results.length === 0) {
      const first = failures.sort((a, b) => a.index - b.index)[0]!;
      throw new RainopsError(
        `every trial failed (${failures.length} of ${candidates.length}); trial ${first.index}: ${first.message}`,
      );
    }
  }
  return results.sort((a, b) => a.index - b.index);
}
