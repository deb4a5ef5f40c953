import { Command } from 'commander';
import { z } from 'zod';
import { runPipeline } from '../core/pipeline.js';
import { addEtlOptions, describeEtl, parseEtlFlags } from './etl.js';
import type { CliIO } from './io.js';
import { describeOptimize, OptimizeFlags, toOptimizeOptions, OPTIMIZE_FLAG_OF } from './optimize.js';
import { searchProgress } from './progress.js';
import { describeRetrain, RetrainFlags } from './retrain.js';
import { openDeps, parseOptions, printResult, withCommon, withTraining } from './shared.js';
import type { CommonOptions } from './shared.js';

export function pipelineCommand(io: CliIO): Command {
  const cmd = addEtlOptions(
    new Command('pipeline').description(
      'etl, then optimize when no prod_best champion exists, else retrain: the one line to put in a crontab',
    ),
  )
    .option('--grid <name|file>', 'grid for the first optimize', 'small')
    .option('--engine <name>', 'engine for the first optimize: auto, wasm or native', 'auto')
    .option('--min-delta <f1>', 'retrain: the challenger must beat the champion by at least this much F1', '0')
    .option(
      '--retrain-when <when>',
      'new-data: retrain on a newer data set; drift: only when rainops monitor finds drift or decay on it; always',
      'new-data',
    )
    .addHelpText(
      'after',
      '\nCrontab example (every day at 03:00):\n  0 3 * * *  cd /srv/rainops && npx rainops pipeline --source https://example.org/weatherAUS.csv >> pipeline.log 2>&1',
    );
  withCommon(withTraining(cmd, { wait: '600' })).action(async (raw: Record<string, unknown> & CommonOptions) => {
    const etlOpts = parseEtlFlags(raw, io);
    const common = { name: raw.name, cv: raw.cv, jobs: raw.jobs, wait: raw.wait, seed: raw.seed };
    const o = parseOptions(
      OptimizeFlags,
      {
        ...common,
        model: raw.name,
        kind: 'xgboost',
        grid: raw.grid,
        search: 'auto',
        metric: 'f1',
        engine: raw.engine,
        promote: 'if-better',
        earlyStopping: '50',
      },
      'pipeline',
      OPTIMIZE_FLAG_OF,
    );
    const r = parseOptions(RetrainFlags, { ...common, force: false, minDelta: raw.minDelta }, 'pipeline');
    const { retrainWhen } = parseOptions(
      z.object({
        retrainWhen: z.enum(['new-data', 'drift', 'always'], { error: 'expected new-data, drift or always' }),
      }),
      { retrainWhen: raw.retrainWhen },
      'pipeline',
    );
    const deps = await openDeps(io, raw, 'pipeline');
    const progress = searchProgress(io, 'pipeline');
    try {
      const result = await runPipeline(
        {
          etl: etlOpts,
          optimize: toOptimizeOptions(o),
          retrain: {
            model: r.name,
            force: false,
            minDelta: r.minDelta,
            cv: r.cv,
            seed: r.seed,
            jobs: r.jobs,
            waitSec: r.wait,
          },
          retrainWhen,
        },
        { ...deps, onProgress: (p) => progress.update(p) },
      );
      progress.end();
      printResult(
        io,
        raw.json,
        result,
        () =>
          describeEtl(result.etl, etlOpts.until) +
          (result.action === 'optimize'
            ? describeOptimize(result.result)
            : result.action === 'retrain'
              ? `${result.decision.retrainWhen === 'drift' ? `${result.decision.reason}\n` : ''}${describeRetrain(result.result)}`
              : `${result.decision.reason}\n`),
      );
    } finally {
      progress.end();
      await deps.close();
    }
  });
  return cmd;
}
