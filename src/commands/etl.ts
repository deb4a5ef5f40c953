import { Command } from 'commander';
import { z } from 'zod';
import { BUNDLED_SOURCE, DEFAULT_SOURCE_LIMITS } from '../core/dataset/source.js';
import { parseIsoDay } from '../core/features/dates.js';
import { etl } from '../core/etl.js';
import type { EtlResult } from '../core/etl.js';
import type { CliIO } from './io.js';
import { withDeps, parseOptions, printResult, withCommon } from './shared.js';
import type { CommonOptions } from './shared.js';
import { table } from './table.js';

const EtlFlags = z.object({
  source: z.string().min(1).optional(),
  until: z
    .string()
    .refine((s) => parseIsoDay(s) !== null, { error: 'expected a calendar day as YYYY-MM-DD' })
    .optional(),
  testSize: z.coerce
    .number({ error: 'expected a number' })
    .gt(0, { error: 'expected a fraction between 0 and 1' })
    .lt(1, { error: 'expected a fraction between 0 and 1' }),
  seed: z.coerce
    .number({ error: 'expected an integer' })
    .int({ error: 'expected an integer' })
    .min(0)
    .max(2 ** 32 - 1),
  split: z.enum(['stratified', 'time'], { error: 'expected stratified or time' }),
  strict: z.boolean(),
  connectTimeout: z.coerce
    .number({ error: 'expected a number of seconds' })
    .positive({ error: 'expected a positive number of seconds' }),
  readTimeout: z.coerce
    .number({ error: 'expected a number of seconds' })
    .positive({ error: 'expected a positive number of seconds' }),
  maxSourceBytes: z.string().transform((s, ctx) => {
    const bytes = parseBytes(s);
    if (bytes !== null) return bytes;
    ctx.addIssue({ code: 'custom', message: 'expected a size such as 500000000, 512M or 2G' });
    return z.NEVER;
  }),
});

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A byte count: digits, optionally with K, M, G or T (powers of 1024; KiB, MiB... also accepted). */
export function parseBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return null;
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : null;
}

export function addEtlOptions(cmd: Command): Command {
  return cmd
    .option(
      '--source <path|url>',
      'CSV to read: a path (a FIFO, <(cmd) and /dev/stdin too) or an http(s) URL, plain or gzip (env RAINOPS_SOURCE; default: the bundled data/weatherAUS.csv.gz)',
    )
    .option('--until <YYYY-MM-DD>', 'keep only rows dated on or before this day')
    .option('--test-size <fraction>', 'share of rows held out for testing', '0.2')
    .option('--seed <n>', 'seed of the split', '42')
    .option('--split <method>', 'stratified (on RainTomorrow) or time (latest rows are the test set)', 'stratified')
    .option('--strict', 'fail on the first row that does not fit the schema instead of skipping it', false)
    .option(
      '--connect-timeout <seconds>',
      'URL source: give up when the server has not answered within this time',
      String(DEFAULT_SOURCE_LIMITS.connectTimeoutMs / 1000),
    )
    .option(
      '--read-timeout <seconds>',
      'URL source: give up when no byte arrives for this long',
      String(DEFAULT_SOURCE_LIMITS.readTimeoutMs / 1000),
    )
    .option(
      '--max-source-bytes <size>',
      'give up on a source larger than this, uncompressed (K, M, G = powers of 1024)',
      '2G',
    );
}

export function parseEtlFlags(raw: Record<string, unknown>, io: CliIO) {
  const { connectTimeout, readTimeout, maxSourceBytes, ...flags } = parseOptions(EtlFlags, raw, 'etl');
  return {
    ...flags,
    source: flags.source ?? (io.env.RAINOPS_SOURCE || BUNDLED_SOURCE),
    connectTimeoutMs: connectTimeout * 1000,
    readTimeoutMs: readTimeout * 1000,
    maxSourceBytes,
  };
}

export function etlCommand(io: CliIO): Command {
  const cmd = new Command('etl')
    .description('extract, clean, split and transform weatherAUS.csv into a new immutable data set version')
    .addHelpText(
      'after',
      '\nExamples:\n  rainops etl                                   # the weatherAUS data set bundled with rainops\n  rainops etl --source ./weatherAUS.csv --until 2015-06-30 --json\n' +
        '  rainops etl --source https://example.org/weatherAUS.csv.gz --read-timeout 30\n  curl -s https://example.org/weatherAUS.csv | rainops etl --source /dev/stdin',
    );
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
        ...(until === undefined
          ? []
          : [[`dated after --until ${until} (left out)`, r.rows.excludedByUntil] as [string, number]]),
        ['without RainTomorrow (dropped)', r.rows.dropped],
        ['train', r.rows.train],
        ['test', r.rows.test],
      ],
    ) +
    `rain tomorrow: ${pct(r.classBalance.train.positiveRate)} of train, ${pct(r.classBalance.test.positiveRate)} of test\n` +
    `stored at ${r.uri}\n`
  );
}
