import { extname } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { CHAMPION_ALIAS, MODEL_NAME } from '../core/context.js';
import { UsageError } from '../core/errors.js';
import { openScorer, predictBatch, predictOne } from '../core/predict/index.js';
import { REMOTE_DEFAULTS } from '../core/predict/remote.js';
import type { BatchResult, PredictResult, ScorerSource } from '../core/predict/index.js';
import type { CliIO } from './io.js';
import { batchProgress } from './progress.js';
import { openDeps, parseOptions, printJson, registryName, versionNumber, withCommon } from './shared.js';
import type { CommonOptions } from './shared.js';
import { formatDuration } from './table.js';

const seconds = z.coerce.number({ error: 'expected seconds' }).positive({ error: 'expected more than 0 seconds' });

const Flags = z
  .object({
    features: z.string().min(1, { error: 'expected a JSON object, or - to read it from standard input' }).optional(),
    input: z.string().min(1).optional(),
    output: z.string().min(1).optional(),
    format: z.enum(['csv', 'jsonl'], { error: 'expected csv or jsonl' }).optional(),
    interactive: z.boolean().optional(),
    strict: z.boolean().optional(),
    url: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL such as http://127.0.0.1:8800' })
      .optional(),
    model: registryName('model').optional(),
    alias: registryName('alias').optional(),
    version: versionNumber.optional(),
    apiKey: z.string().min(1, { error: 'expected a non-empty key' }).optional(),
    connectTimeout: seconds.optional(),
    readTimeout: seconds.optional(),
    maxResponse: z.coerce
      .number({ error: 'expected a size in MiB' })
      .positive({ error: 'expected a size in MiB' })
      .optional(),
    json: z.boolean().optional(),
  })
  .superRefine((f, ctx) => {
    const fail = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: path ? [path] : [], message });
    if ([f.features !== undefined, f.input !== undefined, f.interactive === true].filter(Boolean).length > 1)
      fail('', 'pass only one of --features, --input and --interactive');
    if (f.output !== undefined && f.input === undefined) fail('output', 'goes with --input FILE');
    if (f.strict && f.input === undefined) fail('strict', 'goes with --input FILE');
    if (f.alias !== undefined && f.version !== undefined) fail('version', 'pass --alias or --version, not both');
    if (f.url !== undefined && (f.model ?? f.alias ?? f.version) !== undefined)
      fail('url', 'the server chooses the model; drop --model, --alias and --version');
    if (f.json && f.input !== undefined && (f.output ?? '-') === '-')
      fail('json', 'needs --output FILE: standard output already carries the predictions');
    if (f.json && f.interactive) fail('json', 'does not go with --interactive');
    if (f.apiKey !== undefined && f.url === undefined) fail('apiKey', 'goes with --url');
    for (const flag of ['connectTimeout', 'readTimeout', 'maxResponse'] as const)
      if (f[flag] !== undefined && f.url === undefined) fail(flag, 'goes with --url');
  });

function formatOf(path: string, flag: string, given: 'csv' | 'jsonl' | undefined): 'csv' | 'jsonl' {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (given) return given;
  if (path === '-') return 'csv';
  throw new UsageError(`predict: ${flag}: cannot tell the format of ${path}; name it .csv or .jsonl, or pass --format`);
}

export function predictCommand(io: CliIO): Command {
  const cmd = new Command('predict')
    .description(
      'predict rain tomorrow for one day (--features), a file of rows (--input) or in a form (--interactive)',
    )
    .option(
      '--features <json|->',
      'one day\'s features as JSON (the API body {"features": {...}} or the bare object); - reads standard input',
    )
    .option('--input <file>', 'CSV or JSONL of raw weatherAUS rows (missing values NA; RainTomorrow ignored)')
    .option('--output <file|->', 'where predictions go: .csv or .jsonl, - for standard output (default -)')
    .option('--format <csv|jsonl>', 'output format when --output has no .csv/.jsonl extension')
    .option('--strict', 'stop at the first invalid row instead of skipping it')
    .option(
      '--interactive',
      'a form in the terminal, opened with an example day (the default in a terminal without other flags)',
    )
    .option('--url <url>', 'ask a running rainops serve (e.g. http://127.0.0.1:8800) instead of loading the model here')
    .option('--api-key <key>', 'the key rainops serve was started with, for --url (env RAINOPS_API_KEY)')
    .option(
      '--connect-timeout <seconds>',
      `with --url: longest wait for a connection (default ${REMOTE_DEFAULTS.connectTimeoutMs / 1000})`,
    )
    .option(
      '--read-timeout <seconds>',
      `with --url: longest wait for the next bytes of an answer (default ${REMOTE_DEFAULTS.readTimeoutMs / 1000})`,
    )
    .option(
      '--max-response <MiB>',
      `with --url: largest answer read (default ${REMOTE_DEFAULTS.maxResponseBytes / 1024 / 1024})`,
    )
    .option('--model <name>', `registered model (default ${MODEL_NAME})`)
    .option('--alias <alias>', `alias of the version to use (default ${CHAMPION_ALIAS})`)
    .option('--version <n>', 'version number to use instead of an alias')
    .addHelpText(
      'after',
      `\nExamples:\n  rainops predict --features '{"features": {"Date": "2024-08-26", "Location": "Adelaide", ...}}'\n  rainops predict --input rows.csv --output preds.csv\n  rainops predict --interactive --url http://127.0.0.1:8800`,
    );
  withCommon(cmd).action(async (raw: Record<string, unknown> & CommonOptions) => {
    const f = parseOptions(
      Flags,
      { ...raw, apiKey: raw.apiKey ?? (raw.url ? io.env.RAINOPS_API_KEY : undefined) },
      'predict',
    );
    const form = f.features === undefined && f.input === undefined;
    if (form && !io.stdin.isTTY) {
      throw new UsageError(
        f.interactive
          ? 'predict: --interactive needs a terminal, and standard input is not one; pass --features or --input instead'
          : "predict: pass --features '{...}' or --input FILE (or run in a terminal for the form)",
      );
    }
    const model = f.model ?? MODEL_NAME;
    const remote = {
      apiKey: f.apiKey,
      connectTimeoutMs: f.connectTimeout === undefined ? undefined : f.connectTimeout * 1000,
      readTimeoutMs: f.readTimeout === undefined ? undefined : f.readTimeout * 1000,
      maxResponseBytes: f.maxResponse === undefined ? undefined : Math.round(f.maxResponse * 1024 * 1024),
    };
    const source: ScorerSource = f.url
      ? { url: f.url, remote }
      : f.version !== undefined
        ? { model, version: f.version }
        : { model, alias: f.alias ?? CHAMPION_ALIAS };
    const opened: { close?: () => Promise<void> } = {};
    try {
      const scorer = await openScorer(source, async () => {
        const deps = await openDeps(io, raw, 'predict', { readonly: true });
        opened.close = deps.close;
        return deps;
      });
      if (f.input !== undefined) {
        const output = f.output ?? '-';
        const progress = batchProgress(io);
        const opts = {
          input: f.input,
          inputFormat: formatOf(f.input, '--input', undefined),
          output: output === '-' ? null : output,
          outputFormat: formatOf(output, '--output', f.format),
          strict: f.strict === true,
        };
        const result = await predictBatch(opts, { scorer, sink: io.stdout, onProgress: progress.update }).finally(
          progress.end,
        );
        if (f.json) printJson(io, result);
        else io.stderr.write(describeBatch(result));
      } else if (f.features !== undefined) {
        const text = f.features === '-' ? await readAll(io.stdin) : f.features;
        const result = await predictOne(text, f.features === '-' ? 'standard input' : '--features', scorer);
        if (f.json) printJson(io, result);
        else io.stdout.write(describePrediction(result));
      } else {
        // Ink needs the real terminal streams; in this branch stdin is a TTY, so they are the process's.
        const tty = {
          stdin: io.stdin as NodeJS.ReadStream,
          stdout: io.stdout as NodeJS.WriteStream,
          stderr: io.stderr as NodeJS.WriteStream,
        };
        // Ink and React take a quarter of a second to load: only the form pays for them.
        const { runPredictForm } = await import('../core/tui/run-form.js');
        await runPredictForm({ ...tty, predict: (features) => scorer.predict(features), source: scorer.describe });
      }
    } finally {
      await opened.close?.();
    }
  });
  return cmd;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

export function describePrediction(r: PredictResult): string {
  return `${r.prediction_str}\nprobability of rain: ${r.probability.toFixed(4)}\nmodel: ${r.model.name} v${r.model.version}\n`;
}

const count = (n: number) => n.toLocaleString('en-US');

export function describeBatch(r: BatchResult): string {
  const by = r.model ? ` by ${r.model.name} v${r.model.version}` : '';
  let text = r.complete ? '' : `predict: standard output was closed; stopped after ${count(r.rows)} rows\n`;
  text += `predict: ${count(r.predicted)} of ${count(r.rows)} rows scored${by} in ${formatDuration(Math.round(r.elapsedMs))} -> ${r.output === '-' ? 'standard output' : r.output} (${count(r.rain)} predicted rain)\n`;
  if (r.rejected > 0) {
    text += `predict: skipped ${count(r.rejected)} invalid row${r.rejected === 1 ? '' : 's'} (--strict stops at the first):\n`;
    for (const [reason, { count: n, lines }] of Object.entries(r.rejectedByReason).sort(
      (a, b) => b[1].count - a[1].count,
    )) {
      text += `  ${count(n)} × ${reason} (line${lines.length === 1 ? '' : 's'} ${lines.join(', ')}${n > lines.length ? ', …' : ''})\n`;
    }
  }
  return text;
}
