import type { CoreDeps } from './context.js';
import { CHAMPION_ALIAS } from './context.js';
import { etl } from './etl.js';
import type { EtlOptions, EtlResult } from './etl.js';
import { monitor } from './monitor/monitor.js';
import { optimize } from './optimize.js';
import type { OptimizeDeps, OptimizeOptions, OptimizeResult } from './optimize.js';
import { retrain } from './retrain.js';
import type { RetrainOptions, RetrainResult } from './retrain.js';

/** When the pipeline retrains a champion: on a newer data set (default), on drift or decay of the newest one, or always. */
export type RetrainWhen = 'new-data' | 'drift' | 'always';

/** Why the pipeline did or did not retrain, with the monitor's figures when it asked it. */
export interface RetrainDecision {
  retrainWhen: RetrainWhen;
  retrain: boolean;
  reason: string;
  monitorRunId?: string;
  drifted?: boolean;
  driftedFeatures?: string[];
  shareDrifted?: number;
  predictionPsi?: number;
  decayed?: boolean;
}

export type PipelineResult =
  | { etl: EtlResult; action: 'optimize'; result: OptimizeResult }
  | { etl: EtlResult; action: 'retrain'; result: RetrainResult; decision: RetrainDecision }
  | { etl: EtlResult; action: 'skip'; decision: RetrainDecision };

/** With `drift`, the monitor decides: the champion's training rows against the new data set's. */
async function decide(when: RetrainWhen, model: string, dataset: string, deps: CoreDeps): Promise<RetrainDecision> {
  if (when !== 'drift')
    return {
      retrainWhen: when,
      retrain: true,
      reason: when === 'always' ? 'retrain-when always' : 'retrain-when new-data: retrain decides on the data set',
    };
  const m = await monitor({ model, alias: CHAMPION_ALIAS, against: { kind: 'dataset', id: dataset } }, deps);
  const driftedFeatures = m.features.filter((f) => f.drifted).map((f) => f.feature);
  const reason = m.drifted
    ? `monitor run ${m.runId} found ${[
        driftedFeatures.length ? `drift in ${driftedFeatures.join(', ')}` : '',
        m.prediction.drifted ? 'prediction drift' : '',
        m.quality.decayed ? 'decay' : '',
      ]
        .filter(Boolean)
        .join(', ')}`
    : `monitor run ${m.runId} found nothing past the thresholds on data set ${dataset}; not retraining`;
  await deps.registry.setTags(m.runId, { retrain_when: 'drift', pipeline_decision: m.drifted ? 'retrain' : 'skip' });
  return {
    retrainWhen: when,
    retrain: m.drifted,
    reason,
    monitorRunId: m.runId,
    drifted: m.drifted,
    driftedFeatures,
    shareDrifted: m.dataset.shareDrifted,
    predictionPsi: m.prediction.psi,
    decayed: m.quality.decayed,
  };
}

/** The crontab line: a new data set, then a first model (optimize) or a champion/challenger round (retrain). */
export async function runPipeline(
  opts: { etl: EtlOptions; optimize: OptimizeOptions; retrain: RetrainOptions; retrainWhen?: RetrainWhen },
  deps: OptimizeDeps,
): Promise<PipelineResult> {
  const etlResult = await etl(opts.etl, deps);
  const dataset = etlResult.datasetId;
  if ((await deps.registry.getAlias(opts.optimize.model, CHAMPION_ALIAS)) === null) {
    deps.logger.info(`no ${CHAMPION_ALIAS} champion yet: optimizing`);
    return { etl: etlResult, action: 'optimize', result: await optimize({ ...opts.optimize, dataset }, deps) };
  }
  const when = opts.retrainWhen ?? 'new-data';
  const decision = await decide(when, opts.retrain.model, dataset, deps);
  deps.logger.info(decision.reason);
  if (!decision.retrain) return { etl: etlResult, action: 'skip', decision };
  // Drift found, or asked always: retrain even on the champion's own data set.
  const force = opts.retrain.force || when !== 'new-data';
  const result = await retrain({ ...opts.retrain, dataset, force }, deps as CoreDeps);
  if (result.run_id && decision.monitorRunId)
    await deps.registry.setTags(result.run_id, { retrain_when: when, monitor_run_id: decision.monitorRunId });
  return { etl: etlResult, action: 'retrain', result, decision };
}
