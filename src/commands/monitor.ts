import { Command } from 'commander';
import { z } from 'zod';
import { CHAMPION_ALIAS, MODEL_NAME } from '../core/context.js';
import { ThresholdExceeded } from '../core/errors.js';
import { parseIsoDay } from '../core/features/dates.js';
import { monitor } from '../core/monitor/monitor.js';
import type { MonitorResult } from '../core/monitor/monitor.js';
import { parseAgainst } from '../core/monitor/sources.js';
import type { CliIO } from './io.js';
import { parseOptions, printResult, registryName, withCommon, withDeps } from './shared.js';
import type { CommonOptions } from './shared.js';
import { table } from './table.js';

const share = (what: string) =>
  z.coerce
    .number({ error: `expected ${what}` })
    .refine(Number.isFinite, { error: `expected ${what}` })
    .pipe(
      z
        .number()
        .min(0, { error: `expected ${what}` })
        .max(1, { error: `expected ${what}` }),
    );
const day = z
  .string()
  .refine((s) => parseIsoDay(s) !== null, { error: 'expected a day as YYYY-MM-DD' })
  .optional();

export const MonitorFlags = z.object({
  model: registryName('model'),
  alias: registryName('alias'),
  against: z.string().min(1, { error: 'expected a data set id, a CSV path or URL, or predictions' }).optional(),
  since: day,
  until: day,
  psi: z.coerce
    .number({ error: 'expected a number' })
    .refine(Number.isFinite, { error: 'expected a number' })
    .pipe(z.number().positive({ error: 'expected a PSI above 0' })),
  pValue: share('a p-value from 0 to 1'),
  missing: share('a share from 0 to 1'),
  f1Drop: share('an F1 difference from 0 to 1'),
  share: share('a share from 0 to 1'),
});

export function monitorCommand(io: CliIO): Command {
  const cmd = new Command('monitor')
    .description(
      "drift and quality of the champion: its training rows against the newest data set, a CSV or the server's logged predictions",
    )
    .option('--model <name>', 'registered model', MODEL_NAME)
    .option('--alias <name>', 'alias of the version to check', CHAMPION_ALIAS)
    .option(
      '--against <what>',
      'current rows: a data set id, a weatherAUS-format CSV (path or URL, RainTomorrow optional) or "predictions" (default: the newest data set)',
    )
    .option('--since <day>', 'only rows dated (logged predictions: logged) on or after this day, YYYY-MM-DD')
    .option('--until <day>', 'only rows dated (logged predictions: logged) on or before this day, YYYY-MM-DD')
    .option('--psi <value>', 'a feature drifted at this PSI or more (watch at half of it)', '0.2')
    .option('--p-value <p>', "PSI counts only when the KS or chi-square test's p-value is below this", '0.01')
    .option('--missing <share>', 'a feature drifted when its missing rate moved this much', '0.1')
    .option('--f1-drop <f1>', 'decay: F1 (estimated without labels) this far below the registered test F1', '0.05')
    .option('--share <share>', 'the data set drifted when more than this share of its features did', '0')
    .addHelpText(
      'after',
      '\nExit codes: 0 nothing past the thresholds, 3 drift or decay, 1 failure, 2 bad usage.\n\n' +
        'Examples:\n  rainops monitor\n  rainops monitor --against new-week.csv --json\n  rainops monitor --against predictions --since 2026-12-01',
    );
  withCommon(cmd).action(async (raw: Record<string, unknown> & CommonOptions) => {
    const f = parseOptions(MonitorFlags, raw, 'monitor');
    const result = await withDeps(io, raw, 'monitor', (deps) =>
      monitor(
        {
          model: f.model,
          alias: f.alias,
          against: parseAgainst(f.against, io.cwd),
          since: f.since,
          until: f.until,
          thresholds: { psi: f.psi, pValue: f.pValue, missing: f.missing },
          f1Drop: f.f1Drop,
          share: f.share,
        },
        deps,
      ),
    );
    printResult(io, raw.json, result, () => describeMonitor(result));
    if (result.drifted) throw new ThresholdExceeded(monitorVerdict(result));
  });
  return cmd;
}

/** One line for stderr when monitor exits 3. */
export function monitorVerdict(r: MonitorResult): string {
  const why: string[] = [];
  const names = r.features.filter((f) => f.drifted).map((f) => f.feature);
  if (r.dataset.drifted) why.push(`${names.length} of ${r.dataset.features} inputs drifted (${names.join(', ')})`);
  if (r.prediction.drifted) why.push(`the predictions drifted (PSI ${r.prediction.psi.toFixed(3)})`);
  if (r.quality.decayed) why.push(`F1 fell more than ${r.thresholds.f1Drop} below the registered test F1`);
  return `monitor: ${why.join('; ')} (exit code 3); the report is ${r.report}`;
}

/** The summary shows the latest months; --json and the run hold every month. */
const MONTHS_SHOWN = 24;

const fix = (v: number | null, d = 4) => (v === null ? '-' : v.toFixed(d));

export function describeMonitor(r: MonitorResult): string {
  const features = table(
    ['feature', 'test', 'psi', 'statistic', 'p_value', 'missing_change', 'verdict'],
    r.features.map((f) => [
      f.feature,
      f.test,
      Number(f.psi.toFixed(4)),
      Number(f.statistic.toFixed(4)),
      Number(f.pValue.toPrecision(3)),
      Number(f.missingChange.toFixed(3)),
      f.verdict,
    ]),
  );
  const quality = table(
    ['month', 'rows', 'labelled', 'f1', 'precision', 'recall', 'roc_auc', 'estimated_f1'],
    [...r.quality.months.slice(-MONTHS_SHOWN), r.quality.overall].map((q) => [
      q.month,
      q.rows,
      q.labelled,
      q.f1 === null ? null : Number(q.f1.toFixed(4)),
      q.precision === null ? null : Number(q.precision.toFixed(4)),
      q.recall === null ? null : Number(q.recall.toFixed(4)),
      q.rocAuc === null ? null : Number(q.rocAuc.toFixed(4)),
      Number(q.estimatedF1.toFixed(4)),
    ]),
  );
  const p = r.prediction;
  return (
    `${r.model} v${r.version}: ${r.reference.rows} training rows of ${r.reference.datasetId} against ${r.current.rows} current rows (${r.current.kind} ${r.current.source})` +
    `${r.current.excludedTrainingRows ? `; ${r.current.excludedTrainingRows} rows the champion trained on left out` : ''}\n\n` +
    features +
    `\n${r.dataset.driftedFeatures} of ${r.dataset.features} inputs drifted, ${r.dataset.watchFeatures} to watch (PSI >= ${r.thresholds.psi} drifted, >= ${r.thresholds.psi / 2} watch, p < ${r.thresholds.pValue})\n` +
    `predictions: PSI ${fix(p.psi)}, KS ${fix(p.ksStatistic)} (p ${p.pValue.toPrecision(3)}); rain rate ${fix(p.rainRateReference, 3)} -> ${fix(p.rainRateCurrent, 3)}${p.drifted ? ' DRIFTED' : ''}\n\n` +
    (r.quality.months.length > MONTHS_SHOWN
      ? `quality of the latest ${MONTHS_SHOWN} of ${r.quality.months.length} months (--json has them all):\n`
      : '') +
    quality +
    `\nregistered test F1 ${fix(r.quality.testF1)}; ${r.quality.labelled ? 'F1' : 'estimated F1'} now ${fix(r.quality.labelled ? r.quality.overall.f1 : r.quality.overall.estimatedF1)}${r.quality.decayed ? ' DECAYED' : ''}\n` +
    `calibration on ${r.calibration.on}: ECE ${fix(r.calibration.ece)}, estimated minus real F1 ${fix(r.calibration.estimateError)}\n` +
    `verdict: ${r.drifted ? 'drift or decay past the thresholds' : 'nothing past the thresholds'}\n` +
    `run ${r.runId}; report ${r.report}\n`
  );
}
