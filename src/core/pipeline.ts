import type { CoreDeps } from './context.js';
import { CHAMPION_ALIAS } from './context.js';
import { etl } from './etl.js';
import type { EtlOptions, EtlResult } from './etl.js';
import { optimize } from './optimize.js';
import type { OptimizeDeps, OptimizeOptions, OptimizeResult } from './optimize.js';
import { retrain } from './retrain.js';
import type { RetrainOptions, RetrainResult } from './retrain.js';

export type PipelineResult =
  | { etl: EtlResult; action: 'optimize'; result: OptimizeResult }
  | { etl: EtlResult; action: 'retrain'; result: RetrainResult };

/** The crontab line: a new data set, then a first model (optimize) or a champion/challenger round (retrain). */
export async function runPipeline(
  opts: { etl: EtlOptions; optimize: OptimizeOptions; retrain: RetrainOptions },
  deps: OptimizeDeps,
): Promise<PipelineResult> {
  const etlResult = await etl(opts.etl, deps);
  const dataset = etlResult.datasetId;
  if ((await deps.registry.getAlias(opts.optimize.model, CHAMPION_ALIAS)) === null) {
    deps.logger.info(`no ${CHAMPION_ALIAS} champion yet: optimizing`);
    return { etl: etlResult, action: 'optimize', result: await optimize({ ...opts.optimize, dataset }, deps) };
  }
  return { etl: etlResult, action: 'retrain', result: await retrain({ ...opts.retrain, dataset }, deps as CoreDeps) };
}
