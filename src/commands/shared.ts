import { hostname } from 'node:os';
import type { Command } from 'commander';
import { z } from 'zod';
import type { CoreDeps, Logger } from '../core/context.js';
import { MODEL_NAME } from '../core/context.js';
import { loadConfig } from '../core/config.js';
import { UsageError } from '../core/errors.js';
import { snakeKeys } from '../core/naming.js';
import { openStore } from '../core/store/index.js';
import { ensureOwner, guardWrites, once } from '../core/store/owner.js';
import { openRegistry } from '../registry/index.js';
import { VERSION_TEXT, nameProblem } from '../registry/validate.js';
import type { CliIO } from './io.js';

export interface CommonOptions {
  json?: boolean;
  verbose?: boolean;
  home?: string;
  store?: string;
  registry?: string;
}

/** The flags every command takes. */
export function withCommon(cmd: Command): Command {
  return cmd
    .option(
      '--json',
      'print the result as one JSON document with snake_case keys on stdout (progress and warnings stay on stderr)',
    )
    .option('--verbose', 'show debug lines and stack traces')
    .option('--home <dir>', 'where the registry and caches live (env RAINOPS_HOME, default ./.rainops)')
    .option('--store <url>', 'artifact store: file:///ABSOLUTE/PATH or s3://BUCKET[/PREFIX] (env RAINOPS_STORE)')
    .option(
      '--registry <url>',
      'registry: sqlite://PATH (default HOME/registry.db) or postgres://USER@HOST:PORT/DB (env RAINOPS_REGISTRY)',
    );
}

/** The flags every training command (optimize, retrain, pipeline) shares; `wait` is the lock wait default. */
export function withTraining(cmd: Command, defaults: { wait: string }): Command {
  return cmd
    .option('--cv <k>', 'cross-validation folds', '5')
    .option(
      '--jobs <n>',
      'folds trained in parallel (default: every core for wasm, 1 for native, which uses every core itself)',
    )
    .option('--wait <seconds>', 'wait this long for another optimize or retrain of the model to finish', defaults.wait)
    .option('--name <model>', 'registered model name', MODEL_NAME);
}

/** Progress lines on stderr: plain on a terminal, timestamped otherwise (cron, pipes). */
export function stderrLogger(io: CliIO, scope: string, verbose = false): Logger {
  const line = (level: string, msg: string) => {
    const stamp = io.stderr.isTTY ? '' : `${new Date().toISOString()} `;
    io.stderr.write(`${stamp}${scope}: ${level}${msg}\n`);
  };
  return {
    info: (m) => line('', m),
    warn: (m) => line('warning: ', m),
    debug: (m) => (verbose ? line('debug: ', m) : undefined),
  };
}

export interface OpenDepsOptions {
  /** Only read the registry: works on a full disk or a read-only home and never waits for a writer. */
  readonly?: boolean;
}

/** Opens the registry and store the options and environment name. Close the registry when done. */
export async function openDeps(
  io: CliIO,
  opts: CommonOptions,
  scope: string,
  open: OpenDepsOptions = {},
): Promise<CoreDeps & { close(): Promise<void> }> {
  const config = loadConfig(io.env, io.cwd, opts);
  const leaseMs = config.leaseSeconds === undefined ? undefined : config.leaseSeconds * 1000;
  const registry = await openRegistry(config.registry, {
    leaseMs,
    readonly: open.readonly ?? false,
    ...(config.host ? { hostname: config.host } : {}),
  });
  const logger = stderrLogger(io, scope, opts.verbose);
  if (registry.access === 'snapshot')
    logger.warn(
      `${registry.file} cannot be read in place (a read-only directory or a full disk); reading a copy of it as it is now`,
    );
  const onRetry = (r: { action: string; delayMs: number; reason: string }) =>
    logger.warn(`s3: ${r.action} failed (${r.reason}); retrying in ${r.delayMs} ms`);
  const raw = openStore(config.store, { cwd: io.cwd, env: io.env, s3: { onRetry } });
  // No write reaches a store that another registry owns (see core/store/owner.ts).
  const claimStore = once(() =>
    ensureOwner(raw, { registry, hostname: config.host ?? hostname(), now: () => new Date() }),
  );
  const store = guardWrites(raw, claimStore);
  return {
    registry,
    store,
    claimStore,
    home: config.home,
    logger,
    onInterrupt: io.onInterrupt,
    close: () => registry.close(),
  };
}

/** Runs fn with the registry and store open, closing the registry whatever happens. */
export async function withDeps<T>(
  io: CliIO,
  opts: CommonOptions,
  scope: string,
  fn: (deps: CoreDeps) => Promise<T>,
  open: OpenDepsOptions = {},
): Promise<T> {
  const deps = await openDeps(io, opts, scope, open);
  try {
    return await fn(deps);
  } finally {
    await deps.close();
  }
}

/** A model or alias name, checked with the registry's own rule while flags are parsed, so no work starts for a name it would refuse. */
export const registryName = (kind: 'model' | 'alias') =>
  z.string().superRefine((name, ctx) => {
    const problem = nameProblem(kind, name);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** A model version as typed: a plain whole number from 1 (not 0x2, 1e0, ' 2' or 02). */
export const versionNumber = z
  .string()
  .regex(VERSION_TEXT, { error: 'expected a version number written plainly, e.g. 2' })
  .transform(Number)
  .pipe(z.number().max(Number.MAX_SAFE_INTEGER, { error: 'expected a version number written plainly, e.g. 2' }));

/** withDeps for commands that only look: the registry is opened read-only. */
export function withReadDeps<T>(
  io: CliIO,
  opts: CommonOptions,
  scope: string,
  fn: (deps: CoreDeps) => Promise<T>,
): Promise<T> {
  return withDeps(io, opts, scope, fn, { readonly: true });
}

/** Parses option values with a zod schema; a failure is a usage error naming the flag (`flagOf` maps schema keys that differ from it). */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  command: string,
  flagOf: Record<string, string> = {},
): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const flag = issue.path
    .map((p) => `--${(flagOf[String(p)] ?? String(p)).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)
    .join(' ');
  throw new UsageError(`${command}: ${flag ? `${flag}: ` : ''}${issue.message}`);
}

/** The one JSON document of --json: every key snake_case, as in the HTTP API (see DATA_MAPS for the exceptions). */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(snakeKeys(value), null, 2)}\n`);
}

/** The result a user asked for goes to stdout: the JSON document with --json, else the human summary. */
export function printResult(io: CliIO, json: boolean | undefined, value: unknown, describe: () => string): void {
  if (json) printJson(io, value);
  else io.stdout.write(describe());
}
