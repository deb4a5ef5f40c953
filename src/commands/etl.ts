import { Command } from 'commander';
import { z } from 'zod';
import { DEFAULT_SOURCE_URL } from '../core/dataset/source.js';
import { parseIsoDay } from '../core/features/dates.js';
import { etl } from '../core/etl.js';
import type { EtlResult } from '../core/etl.js';
import type { CliIO } from './io.js';
import { withDeps, parseOptions, printResult, withCommon } from './shared.js';
import type { CommonOptions } from './shared.js';
import { table } from './table.js';

const EtlFlags = z.object({
  source: z.string().min(1).optional(),
  until: z.string().refine((s) => parseIsoDay(s) !== null, { error: 'expected a calendar day as YYYY-MM-DD' }).optional(),
  testSize: z.coerce.number({ error: 'expected a number' }).gt(0, { error: 'expected a fraction between 0 and 1' }).lt(1, { error: 'expected a fraction between 0 and 1' }),
  seed: z.coerce.number({ error: 'expected an integer' }).int({ error: 'expected an integer' }).min(0).max(2 ** 32 - 1),
  split: z.enum(['stratified', 'time'], { error: 'expected stratified or time' }),
  strict: z.boolean(),
});

export function addEtlOptions(cmd: Command): Command {
  return cmd
    .option('--source <path|url>', `CSV to read (env RAINOPS_SOURCE, default ${DEFAULT_SOURCE_URL})`)
    .option('--until <YYYY-MM-DD>', 'keep only rows dated on or before this day')
    .option('--test-size <fraction>', 'share of rows held out for testing', '0.2')
    .option('--seed <n>', 'seed of the split', '42')
    .option('--split <method>', 'stratified (on RainTomorrow) or time (latest rows are the test set)', 'stratified')
    .option('--strict', 'fail on the first row that does not fit the schema instead of skipping it', false);
}

export function parseEtlFlags(raw: Record<string, unknown>, io: CliIO) {
  const flags = parseOptions(EtlFlags, raw, 'etl');
  return { ...flags, source: flags.source ?? (io.env.RAINOPS_SOURCE || DEFAULT_SOURCE_URL) };
}

export function etlCommand(io: CliIO): Command {
  const cmd = new Command('etl')
    .description('extract, clean, split and transform weatherAUS.csv into a new immutable data set version')
    .addHelpText('after', '\nExamples:\n  rainops etl --source ./weatherAUS.csv\n  rainops etl --source ./weatherAUS.csv --until 2015-06-30 --json');
  withCommon(addEtlOptions(cmd)).action(async (raw: Record<string, unknown> & CommonOptions) => {
    const opts = parseEtlFlags(raw, io);
    await withDeps(io, raw, 'etl', async (deps) => {
      const result = await etl(opts, deps);
      printResult(io, raw.json, result, () => describeEtl(result, opts.until));
    });
  });
  return cmd;
}

export function describeEtl(r: EtlResult, until: string | undefined): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return (
    `data set ${r.datasetId}${r.reused ? ' (reused: same source and split)' : ''}  run ${r.runId}\n` +
    table(
      ['rows', 'count'],
      [
        ['in source', r.rows.total],
        ['rejected by the row schema', r.rows.rejected],
        ...(until === undefined ? [] : [[`dated after --until ${until} (left out)`, r.rows.excludedByUntil] as [string, number]]),
        ['without RainTomorrow (dropped)', r.rows.dropped],
        ['train', r.rows.train],
        ['test', r.rows.test],
      ],
    ) +
    `rain tomorrow: ${pct(r.classBalance.train.positiveRate)} of train, ${pct(r.classBalance.test.positiveRate)} of test\n` +
    `stored at ${r.uri}\n`
  );
}
