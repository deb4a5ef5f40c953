import { Command } from 'commander';
import { z } from 'zod';
import { stringify } from 'csv-stringify/sync';
import type { Artifact, RunDetail, RunStatus } from '../registry/index.js';
import { snakeRecord } from '../core/naming.js';
import type { CliIO } from './io.js';
import { withReadDeps, parseOptions, printJson, withCommon } from './shared.js';
import type { CommonOptions } from './shared.js';
import { describePlots } from './optimize.js';
import { displayUri, formatBytes, formatDuration, formatNumber, printable, table } from './table.js';
import { compareRuns } from '../core/compare.js';
import { UsageError } from '../core/errors.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Keys that optimize records; the integration tests run each line against a real search. */
export const RUNS_LIST_EXAMPLES = `
Examples:
  rainops runs list --sort -metrics.test_f1
  rainops runs list --filter "metrics.test_f1>0.6" --filter "params.search=grid"
  rainops runs list --all --sort -metrics.cv_score --limit 5
A key no listed run has is an error that names the keys there are; 'rainops runs show RUN' shows one run's keys.`;

const ListFlags = z.object({
  experiment: z.string().optional(),
  status: z.enum(['RUNNING', 'FINISHED', 'FAILED'], { error: 'expected RUNNING, FINISHED or FAILED' }).optional(),
  sort: z.string().optional(),
  filter: z.array(z.string()).optional(),
  limit: z.coerce.number({ error: 'expected a whole number' }).int().positive().optional(),
  parent: z.string().optional(),
  study: z.string().optional(),
  all: z.boolean().optional(),
});

export function runsCommand(io: CliIO): Command {
  const cmd = new Command('runs').description('list, inspect and compare tracked runs');
  withCommon(
    cmd
      .command('list')
      .description('runs, newest first (trials of a search are hidden unless --all or --parent)')
      .option('--experiment <name>', 'only runs of this experiment')
      .option('--status <status>', 'RUNNING, FINISHED or FAILED')
      .option(
        '--sort <field>',
        'a column (start_time, duration_ms, ...) or params.KEY, metrics.KEY, tags.KEY; "-" in front for descending',
      )
      .option(
        '--filter <expr>',
        'FIELD.KEY OP VALUE with FIELD params, metrics or tags and OP = != > >= < <= (repeatable; all must hold)',
        collect,
      )
      .option('--limit <n>', 'at most this many runs')
      .option('--parent <run>', 'only the trials of this run, with the host that ran each')
      .option('--study <name>', 'the workers and trials of a shared search (optimize --study), with their hosts')
      .option('--all', 'include trial runs')
      .addHelpText('after', RUNS_LIST_EXAMPLES),
  ).action(async (raw: Record<string, unknown> & CommonOptions) => {
    const f = parseOptions(ListFlags, raw, 'runs list');
    await withReadDeps(io, raw, 'runs', async (deps) => {
      const runs = await deps.registry.listRuns({
        experiment: f.experiment,
        status: f.status as RunStatus | undefined,
        sort: f.sort,
        filters: [...(f.filter ?? []), ...(f.study ? [`tags.study=${f.study}`] : [])],
        limit: f.limit,
        ...(f.parent ? { parentRunId: f.parent } : f.all || f.study ? {} : { topLevelOnly: true }),
      });
      if (raw.json) return printJson(io, runs);
      if (runs.length === 0) return void io.stderr.write('no runs match\n');
      const metricKeys = pickKeys(
        runs.map((r) => r.metrics),
        ['test_f1', 'test_roc_auc', 'cv_score', 'rows_train', 'rows_test'],
      );
      // which host ran what matters for trials and once runs come from more than one host
      const hosts = f.parent !== undefined || f.study !== undefined || new Set(runs.map((r) => r.hostname)).size > 1;
      io.stdout.write(
        table(
          ['run', 'name', 'status', 'started', 'duration', ...(hosts ? ['host'] : []), ...metricKeys],
          runs.map((r) => [
            r.id.slice(0, 12),
            r.name,
            r.status,
            r.startTime.slice(0, 19).replace('T', ' '),
            formatDuration(r.durationMs),
            ...(hosts ? [printable(r.hostname)] : []),
            ...metricKeys.map((k) => r.metrics[k]),
          ]),
        ),
      );
    });
  });
  withCommon(
    cmd
      .command('show')
      .argument('<run>', 'run id or a unique prefix')
      .description('one run: status, resources, params, metrics, tags, artifacts, data sets'),
  ).action(async (id: string, opts: CommonOptions) => {
    await withReadDeps(io, opts, 'runs', async (deps) => {
      const r = withSnakeParams(await deps.registry.getRun(id));
      if (opts.json) return printJson(io, r);
      const lines = [
        `run ${r.id}  ${printable(r.name)}  (${printable(r.experiment)})`,
        `  status    ${r.status}${r.error ? `: ${printable(r.error)}` : ''}`,
        `  started   ${r.startTime}${r.endTime ? `, ended ${r.endTime}` : ''}`,
        `  duration  ${formatDuration(r.durationMs)}, CPU ${formatDuration(r.cpuTimeMs)}, peak memory ${formatBytes(r.peakRssBytes)}`,
        `  process   ${r.pid} on ${printable(r.hostname)}${r.parentRunId ? `\n  parent    ${r.parentRunId}` : ''}${r.childrenCount ? `\n  trials    ${r.childrenCount}` : ''}`,
      ];
      const section = (title: string, rec: Record<string, unknown>) =>
        Object.keys(rec).length
          ? `\n${table(
              [title, 'value'],
              Object.entries(rec).map(([k, v]) => [k, typeof v === 'number' ? v : String(v)]),
            )}`
          : '';
      io.stdout.write(
        lines.join('\n') +
          '\n' +
          section('param', r.params) +
          section('metric', r.metrics) +
          section('tag', r.tags) +
          (r.datasets.length
            ? `\n${table(
                ['data set', 'role'],
                r.datasets.map((d) => [d.id, d.role]),
              )}`
            : '') +
          describeArtifacts(r.artifacts),
      );
    });
  });
  withCommon(
    cmd
      .command('compare')
      .argument('<runs...>', 'two or more run ids (or unique prefixes)')
      .description('parameters and metrics side by side, with deltas against the first run')
      .option('--only-changed', 'hide rows that are the same in every run')
      .option('--md', 'a Markdown table')
      .option('--csv', 'CSV'),
  ).action(async (ids: string[], opts: CommonOptions & { onlyChanged?: boolean; md?: boolean; csv?: boolean }) => {
    if (ids.length < 2)
      throw new UsageError('runs compare: name at least two runs, e.g. rainops runs compare 3fa9 b71c');
    await withReadDeps(io, opts, 'runs', async (deps) => {
      const runs: RunDetail[] = [];
      for (const id of ids) runs.push(withSnakeParams(await deps.registry.getRun(id)));
      const cmp = compareRuns(runs, opts.onlyChanged);
      if (opts.json) return printJson(io, cmp);
      const headers = [
        '',
        'key',
        ...cmp.runs.map((r, i) => (i === 0 ? r.id.slice(0, 12) : `${r.id.slice(0, 12)} (delta)`)),
      ];
      const cells = cmp.rows.map((row) => [
        row.kind,
        row.key,
        ...row.values.map((v, i) => {
          const text = v === null ? '-' : typeof v === 'number' ? formatNumber(v) : v;
          const d = row.deltas[i];
          return i === 0 || d === null || d === undefined || !row.changed
            ? text
            : `${text} (${d >= 0 ? '+' : ''}${formatNumber(d)})`;
        }),
      ]);
      if (opts.csv) io.stdout.write(stringify([headers, ...cells]));
      else if (opts.md)
        io.stdout.write(
          `${[headers, headers.map(() => '---'), ...cells].map((r) => `| ${r.map((c) => printable(c).replace(/\|/g, '\\|')).join(' | ')} |`).join('\n')}\n`,
        );
      else io.stdout.write(table(headers, cells));
    });
  });
  return cmd;
}

/** Hyperparameters under their snake_case names, also for runs recorded when they were camelCase. */
const withSnakeParams = <T extends { params: Record<string, string> }>(r: T): T => ({
  ...r,
  params: snakeRecord(r.params),
});

/** The artifacts table, where they are stored, and the plots' full locations. */
function describeArtifacts(artifacts: readonly Artifact[]): string {
  if (artifacts.length === 0) return '';
  const bases = new Set(artifacts.map((a) => (a.uri.endsWith(`/${a.path}`) ? a.uri.slice(0, -a.path.length) : a.uri)));
  const where = bases.size === 1 ? `\nartifacts in ${displayUri([...bases][0]!)}\n` : '\n';
  const plots = artifacts.filter((a) => a.path.endsWith('.svg')).map((a) => a.uri);
  return (
    where +
    table(
      ['artifact', 'bytes', 'sha256'],
      artifacts.map((a) => [a.path, a.size, a.sha256.slice(0, 16)]),
    ) +
    (plots.length ? `\n${describePlots(plots)}` : '')
  );
}

/** The preferred metric columns that some run has, else the first few keys seen. */
function pickKeys(records: Array<Record<string, number>>, preferred: string[]): string[] {
  const seen = new Set(records.flatMap((r) => Object.keys(r)));
  const keys = preferred.filter((k) => seen.has(k));
  return keys.length ? keys : [...seen].slice(0, 3);
}
