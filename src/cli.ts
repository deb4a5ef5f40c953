import { Command, CommanderError } from 'commander';
import { datasetsCommand } from './commands/datasets.js';
import { etlCommand } from './commands/etl.js';
import { gcCommand } from './commands/gc.js';
import { locksCommand } from './commands/locks.js';
import { registryCommand } from './commands/registry.js';
import { modelsCommand } from './commands/models.js';
import { monitorCommand } from './commands/monitor.js';
import { optimizeCommand } from './commands/optimize.js';
import { predictCommand } from './commands/predict.js';
import { pipelineCommand } from './commands/pipeline.js';
import { promoteCommand, rollbackCommand } from './commands/promote.js';
import { retrainCommand } from './commands/retrain.js';
import { processIO } from './commands/io.js';
import type { CliIO } from './commands/io.js';
import { runsCommand } from './commands/runs.js';
import { serveCommand } from './commands/serve.js';
import { VERSION } from './commands/version.js';
import { storeCommand } from './commands/store.js';
import { uiCommand } from './commands/ui.js';
import { RainopsError, diskFullError } from './core/errors.js';
import { nativeEngineEnv } from './core/models/native-lib.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { failActiveRuns } from './core/tracking.js';

export function createProgram(io: CliIO): Command {
  const program = new Command('rainops')
    .description('MLOps in a binary: ETL, hyperparameter search, a model registry and a prediction API for weatherAUS')
    .version(VERSION)
    .showSuggestionAfterError()
    // Root options only before the subcommand, so that `predict --version N` picks a model version.
    .enablePositionalOptions()
    .addHelpText(
      'after',
      '\nState lives in RAINOPS_HOME (default ./.rainops): registry.db and, by default, store/.\n' +
        'Exit codes: 0 success, 1 failure (one-line reason on stderr), 2 bad usage, 3 monitor found drift or decay.\n\n' +
        'Start with:\n  rainops etl                 # the bundled weatherAUS data set\n  rainops runs list\n  rainops datasets list',
    );
  for (const make of [
    etlCommand,
    optimizeCommand,
    retrainCommand,
    promoteCommand,
    rollbackCommand,
    pipelineCommand,
    runsCommand,
    modelsCommand,
    datasetsCommand,
    predictCommand,
    serveCommand,
    monitorCommand,
    uiCommand,
    gcCommand,
    storeCommand,
    locksCommand,
    registryCommand,
  ])
    program.addCommand(make(io));
  // Every command and subcommand reports through io and lets run() choose the exit code.
  const configure = (cmd: Command) => {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(usageMessage(cmd, s)),
    });
    cmd.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** Commander's parse errors in our voice: `rainops: etl: unknown option '--x' (did you mean --y?); see 'rainops etl --help'`. */
export function usageMessage(cmd: Command, text: string): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  const path = names.join(' ');
  const [first = '', ...rest] = text
    .trim()
    .replace(/^error: /, '')
    .split('\n');
  const suggestion = rest
    .join(' ')
    .trim()
    .replace(/^\(Did you mean (.*)\)$/, '(did you mean $1)');
  const what = `${first.replace(/\.$/, '')}${suggestion ? ` ${suggestion}` : ''}`;
  return `rainops: ${path ? `${path}: ` : ''}${what}; see 'rainops ${path ? `${path} ` : ''}--help'\n`;
}

/** Runs the CLI in-process and returns the exit code (0 ok, 1 failure, 2 bad usage). */
export async function run(argv: string[], io: CliIO = processIO()): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end through here with code 0; parse errors were already printed.
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    const verbose = argv.includes('--verbose');
    // A full disk met outside the store and the writers that name their file (the registry, a download cache).
    const failure =
      err instanceof RainopsError
        ? err
        : (diskFullError(err, (err as { path?: string }).path ?? 'the registry or a cache file', {
            fix: 'free space, or point --home and --store at another disk',
          }) ?? err);
    if (failure instanceof RainopsError) {
      io.stderr.write(`rainops: ${failure.message}\n`);
      if (verbose && failure.stack) io.stderr.write(`${failure.stack}\n`);
      return failure.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(
      `rainops: unexpected error: ${message}${verbose ? '' : ' (run again with --verbose for the stack trace)'}\n`,
    );
    if (verbose && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

/** The binary's entry: the only place that exits the process. */
export async function main(): Promise<void> {
  // Before anything loads libxgboost, whose OpenMP reads these once (see nativeEngineEnv).
  Object.assign(process.env, nativeEngineEnv(process.env));
  // Cleanup core registers (temp files) that must run here: process.exit skips pending finally blocks.
  const cleanups = new Set<() => void>();
  const onInterrupt = (cleanup: () => void) => {
    cleanups.add(cleanup);
    return () => void cleanups.delete(cleanup);
  };
  const onSignal = async (signal: NodeJS.Signals) => {
    // an unreachable registry must not keep an interrupted command alive: its runs' leases lapse instead
    const n = await Promise.race([failActiveRuns(`interrupted by ${signal}`), sleep(5_000).then(() => 0)]);
    for (const cleanup of cleanups) {
      try {
        cleanup();
      } catch {
        // Best effort: the next run sweeps what is left.
      }
    }
    process.stderr.write(`rainops: interrupted by ${signal}${n ? `; marked ${n} run(s) FAILED` : ''}\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', (s) => void onSignal(s));
  process.once('SIGTERM', (s) => void onSignal(s));
  const code = await run(process.argv.slice(2), { ...processIO(), onInterrupt });
  // Let stdout drain (a pipe may be slower than us) before exiting.
  process.stdout.write('', () => process.exit(code));
}
