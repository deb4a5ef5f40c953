import { Command } from 'commander';
import { z } from 'zod';
import { retrain } from '../core/retrain.js';
import type { RetrainResult } from '../core/retrain.js';
import type { CliIO } from './io.js';
import { describePlots } from './optimize.js';
import { withDeps, parseOptions, printResult, registryName, withCommon, withTraining } from './shared.js';
import type { CommonOptions } from './shared.js';

const int = (min: number) =>
  z.coerce
    .number({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `expected a whole number of at least ${min}` });

export const RetrainFlags = z.object({
  name: registryName('model'),
  dataset: z.string().optional(),
  force: z.boolean(),
  minDelta: z.coerce.number({ error: 'expected a number' }).min(0, { error: 'expected 0 or more' }),
  cv: int(2).max(20, { error: 'expected at most 20 folds' }),
  seed: int(0),
  jobs: int(1).optional(),
  wait: int(0),
});

export function retrainCommand(io: CliIO): Command {
  const cmd = new Command('retrain')
    .description(
      "champion/challenger: retrain the prod_best champion's recipe on the newest data set; promote the challenger only if its test F1 is strictly higher",
    )
    .option('--dataset <id>', 'data set version (default: the newest)')
    .option('--force', 'retrain even when the champion was trained on this data set', false)
    .option('--min-delta <f1>', 'the challenger must beat the champion by at least this much F1', '0')
    .option('--seed <n>', 'seed of the folds', '42')
    .addHelpText(
      'after',
      "\nExit code 0 also when there is nothing to retrain (no newer data set than the champion's).",
    );
  withCommon(withTraining(cmd, { wait: '0' })).action(async (raw: Record<string, unknown> & CommonOptions) => {
    const f = parseOptions(RetrainFlags, raw, 'retrain');
    await withDeps(io, raw, 'retrain', async (deps) => {
      const result = await retrain(
        {
          model: f.name,
          dataset: f.dataset,
          force: f.force,
          minDelta: f.minDelta,
          cv: f.cv,
          seed: f.seed,
          jobs: f.jobs,
          waitSec: f.wait,
        },
        deps,
      );
      printResult(io, raw.json, result, () => describeRetrain(result));
    });
  });
  return cmd;
}

export function describeRetrain(r: RetrainResult): string {
  if (!r.trained) return `${r.message}\n`;
  const left = r.excluded_rows ? `; ${r.excluded_rows} left out because the champion trained on them` : '';
  return (
    `test_f1_champion   ${r.test_f1_champion?.toFixed(4)}  (v${r.champion.version}, trained on ${r.champion.dataset_id})\n` +
    `test_f1_challenger ${r.test_f1_challenger?.toFixed(4)}  (v${r.challenger?.version}, trained on ${r.dataset_id})\n` +
    `both scored on the same ${r.comparison_rows} test rows of data set ${r.dataset_id}${left}\n` +
    `  ('rainops models show' lists each version's test_f1 on all test rows of its own data set, so the champion's differs)\n` +
    `winner             ${r.winner}${r.promoted ? ' (promoted)' : ''}\n` +
    describePlots(r.plots ?? []) +
    `${r.message}\n`
  );
}
