import { Command } from 'commander';
import { z } from 'zod';
import { optimize } from '../core/optimize.js';
import { optimizeStudy } from '../core/study.js';
import type { StudyOption } from '../core/study.js';
import type { SearchProgress } from '../core/tuning/search.js';
import { HALVING_DEFAULTS, HALVING_MIN_ROWS } from '../core/tuning/halving.js';
import type { OptimizeOptions, OptimizeResult } from '../core/optimize.js';
import type { CliIO } from './io.js';
import { searchProgress } from './progress.js';
import { openDeps, parseOptions, printResult, registryName, withCommon, withTraining } from './shared.js';
import type { CommonOptions } from './shared.js';
import { displayUri, table } from './table.js';

const int = (min: number) =>
  z.coerce
    .number({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `expected a whole number of at least ${min}` });

export const OptimizeFlags = z.object({
  model: registryName('model'),
  dataset: z.string().optional(),
  grid: z.string().min(1),
  search: z.enum(['auto', 'grid', 'random', 'halving'], { error: 'expected grid, random or halving' }).default('auto'),
  trials: int(1).optional(),
  eta: int(2).optional(),
  minBudget: z.coerce
    .number({ error: 'expected a number' })
    .gt(0, { error: 'expected a share of the rows above 0 and at most 1' })
    .max(1, { error: 'expected a share of the rows above 0 and at most 1' })
    .optional(),
  timeout: int(1).optional(),
  cv: int(2).max(20, { error: 'expected at most 20 folds' }),
  metric: z.enum(['f1', 'accuracy', 'roc_auc'], { error: 'expected f1, accuracy or roc_auc' }),
  jobs: int(1).optional(),
  engine: z.enum(['auto', 'wasm', 'native'], { error: 'expected auto, wasm or native' }),
  kind: z.enum(['xgboost', 'cart'], { error: 'expected xgboost or cart' }),
  promote: z.enum(['if-better', 'always', 'never'], { error: 'expected if-better, always or never' }),
  seed: int(0),
  earlyStopping: int(1),
  wait: int(0),
  resume: z.string().optional(),
  study: registryName('model').optional(),
});

/** OptimizeFlags' `model` is the registered name (--name) and `kind` the model kind (--model). */
export const OPTIMIZE_FLAG_OF = { model: 'name', kind: 'model' };

export function optimizeCommand(io: CliIO): Command {
  const cmd = new Command('optimize')
    .description(
      'search XGBoost hyperparameters with stratified k-fold CV, refit the best, evaluate, register it and maybe promote it',
    )
    .option('--dataset <id>', 'data set version (default: the newest)')
    .option(
      '--grid <name|file>',
      'seed (the original 18-candidate grid), small (4 fast candidates) or a JSON file',
      'small',
    )
    .option(
      '--search <kind>',
      `grid (every candidate), random (--trials draws) or halving (--trials draws, the best 1/--eta of each rung go on with --eta times the rows and rounds); default: grid up to ${HALVING_MIN_ROWS.toLocaleString('en')} training rows, halving above`,
    )
    .option(
      '--trials <n>',
      `candidates drawn by a random search (default 10) or a halving one (default ${HALVING_DEFAULTS.trials})`,
    )
    .option(
      '--eta <n>',
      `halving: keep the best 1/eta of each rung, on eta times the rows and rounds (default ${HALVING_DEFAULTS.eta})`,
    )
    .option(
      '--min-budget <share>',
      "halving: the first rung's share of the training rows and of n_estimators (default 1/27, about 0.037)",
    )
    .option('--timeout <seconds>', 'start no new trial after this long')
    .option('--metric <name>', 'f1 (at the out-of-fold threshold), accuracy or roc_auc', 'f1')
    .option('--engine <name>', 'auto (native when libxgboost loads), wasm or native', 'auto')
    .option('--model <kind>', 'xgboost, or cart (an ml-cart baseline on a 5,000-row sample)', 'xgboost')
    .option('--promote <when>', 'if-better (beats the champion on the same test rows), always or never', 'if-better')
    .option('--seed <n>', 'seed of the folds and of random search', '42')
    .option('--early-stopping <rounds>', 'stop a fold after this many rounds without improvement', '50')
    .option('--resume <run>', 'continue an interrupted search (its id or a unique prefix), reusing its finished trials')
    .option(
      '--study <name>',
      'one search shared by every optimize given this name, on any host using the same registry and store: the first creates it, the others join and take trials until none is left; one of them registers the best',
    )
    .addHelpText(
      'after',
      '\nA grid file names XGBoost hyperparameters: {"max_depth": [4, 6], "learning_rate": [0.05, 0.1]}.\n' +
        '\nExamples:\n  rainops optimize\n  rainops optimize --grid seed --engine native\n  rainops optimize --search random --trials 20 --timeout 600 --json\n  rainops optimize --search halving --trials 27 --eta 3\n' +
        '  rainops optimize --study nightly --search random --trials 40   # on several hosts at once: one search\n' +
        "\nWith --study, a worker that joins takes the study's settings; a search flag it gives must agree with them.",
    );
  withCommon(withTraining(cmd, { wait: '0' })).action(async (raw: Record<string, unknown> & CommonOptions) => {
    const f = parseOptions(OptimizeFlags, { ...raw, kind: raw.model, model: raw.name }, 'optimize', OPTIMIZE_FLAG_OF);
    const deps = await openDeps(io, raw, 'optimize');
    const progress = searchProgress(io, 'optimize');
    try {
      const opts = toOptimizeOptions(f);
      const withProgress = { ...deps, onProgress: (p: SearchProgress) => progress.update(p) };
      const result = f.study
        ? await optimizeStudy(opts, { study: f.study, given: givenStudyOptions(cmd) }, withProgress)
        : await optimize(opts, withProgress);
      progress.end();
      printResult(io, raw.json, result, () => describeOptimize(result));
    } finally {
      progress.end();
      await deps.close();
    }
  });
  return cmd;
}

/** The commander name of each option a study fixes. */
const STUDY_OPTION_OF: Record<string, StudyOption> = {
  name: 'model',
  dataset: 'dataset',
  search: 'search',
  grid: 'grid',
  trials: 'trials',
  cv: 'cv',
  metric: 'metric',
  seed: 'seed',
  earlyStopping: 'earlyStoppingRounds',
  promote: 'promote',
};

/** The options a study fixes that this command line set (not left at their defaults). */
function givenStudyOptions(cmd: Command): Set<StudyOption> {
  return new Set(
    Object.entries(STUDY_OPTION_OF)
      .filter(([name]) => cmd.getOptionValueSource(name) === 'cli')
      .map(([, option]) => option),
  );
}

export function toOptimizeOptions(f: z.infer<typeof OptimizeFlags>): OptimizeOptions {
  return {
    model: f.model,
    dataset: f.dataset,
    kind: f.kind,
    grid: f.grid,
    search: f.search,
    trials: f.trials,
    eta: f.eta,
    minBudget: f.minBudget,
    timeoutSec: f.timeout,
    cv: f.cv,
    metric: f.metric,
    jobs: f.jobs,
    engine: f.engine,
    promote: f.promote,
    seed: f.seed,
    earlyStoppingRounds: f.earlyStopping,
    waitSec: f.wait,
    resume: f.resume,
  };
}

export function describeOptimize(r: OptimizeResult): string {
  const t = r.test;
  const [[tn, fp], [fn, tp]] = t.confusion_matrix;
  return (
    (r.resumed
      ? `resumed run ${r.resumed.from_run_id}: ${r.resumed.trials_reused} of ${r.resumed.trials_total} trials reused${r.resumed.trials_reused < r.resumed.trials_total ? `, ${r.resumed.trials_total - r.resumed.trials_reused} trained now` : ''}\n`
      : '') +
    (r.study
      ? `study ${r.study.name}: ${r.study.trials} trials${r.study.trials_failed ? ` (${r.study.trials_failed} failed)` : ''}, ${r.study.trials_here} run by this worker (run ${r.study.worker_run_id})${r.study.finished_here ? ', which registered the best' : ''}\n`
      : '') +
    `${r.model} v${r.version} from run ${r.run_id} (${r.engine}, data set ${r.dataset_id})\n` +
    (r.cv
      ? `cross-validation: ${r.cv.trials} trials x ${r.cv.folds} folds, best ${r.cv.metric} ${r.cv.score.toFixed(4)}\n`
      : '') +
    `best params: ${Object.entries(r.best_params)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ')}\n` +
    `test metrics on all ${tn + fp + fn + tp} test rows of data set ${r.dataset_id}:\n` +
    table(
      ['test metric', 'value'],
      [
        ['f1', t.f1],
        ['roc_auc', t.roc_auc],
        ['accuracy', t.accuracy],
        ['precision', t.precision],
        ['recall', t.recall],
        ['log_loss', t.log_loss],
        ['threshold', t.threshold],
      ],
    ) +
    `confusion matrix: tn ${tn}  fp ${fp}  fn ${fn}  tp ${tp}\n` +
    describePlots(r.plots) +
    (r.alias ? `alias ${r.alias} -> v${r.version}: ${r.promotion}\n` : `no alias moved: ${r.promotion}\n`)
  );
}

/** The plots' locations: local paths for the file store, URIs otherwise. */
export function describePlots(uris: readonly string[]): string {
  return uris.length ? `plots:\n${uris.map((u) => `  ${displayUri(u)}\n`).join('')}` : '';
}
