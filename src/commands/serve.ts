import cluster from 'node:cluster';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sonicBoom from 'sonic-boom';
import { z } from 'zod';
import { CHAMPION_ALIAS, MODEL_NAME } from '../core/context.js';
import type { Logger } from '../core/context.js';
import type { AccessLogDestination } from '../core/server/server.js';
import { startService } from '../core/server/service.js';
import type { CliIO } from './io.js';
import { openDeps, parseOptions, printJson, registryName, withCommon } from './shared.js';
import { VERSION } from './version.js';
import type { CommonOptions } from './shared.js';

const num = (what: string) =>
  z.coerce.number({ error: `expected ${what}` }).refine(Number.isFinite, { error: `expected ${what}` });
const int = (min: number, max: number) =>
  num('a whole number').pipe(z.number().int({ error: 'expected a whole number' }).min(min).max(max));

const Flags = z.object({
  port: int(0, 65_535),
  host: z.string().min(1),
  model: registryName('model'),
  alias: registryName('alias'),
  poll: num('seconds').pipe(z.number().min(0, { error: 'expected 0 (do not follow the alias) or more seconds' })),
  apiKey: z.string().min(1, { error: 'expected a non-empty key' }).optional(),
  adminToken: z.string().min(1, { error: 'expected a non-empty token' }).optional(),
  workers: int(0, 256),
  requestTimeout: num('seconds').pipe(z.number().positive({ error: 'expected more than 0 seconds' })),
  drainTimeout: num('seconds').pipe(z.number().min(0, { error: 'expected 0 or more seconds' })),
  logPredictions: z.boolean(),
  logSample: num('a share from 0 to 1').pipe(
    z.number().gt(0, { error: 'expected a share above 0' }).max(1, { error: 'expected a share of at most 1' }),
  ),
});

/**
 * Resolves on the first SIGINT/SIGTERM/SIGHUP (or `extra`). main() exits at once on those signals, which suits
 * batch commands; a server drains first, so it holds them meanwhile and hands them back after the first
 * one (a second Ctrl-C then exits at once), except in a cluster worker, which always drains.
 */
function shutdownSignal(isWorker: boolean): {
  promise: Promise<string>;
  trigger(reason: string): void;
  release(): void;
} {
  // SIGHUP too: a closed terminal or a supervisor's reload must not drop the requests in flight.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const saved = new Map(signals.map((s) => [s, process.listeners(s)]));
  for (const [s, fns] of saved) for (const fn of fns) process.removeListener(s, fn);
  let resolve: (reason: string) => void = () => {};
  const promise = new Promise<string>((r) => (resolve = r));
  const release = () => {
    for (const s of signals) process.removeListener(s, onSignal);
    for (const [s, fns] of saved) for (const fn of fns) process.once(s, fn as NodeJS.SignalsListener);
    saved.clear();
  };
  function onSignal(signal: NodeJS.Signals) {
    if (!isWorker) release();
    resolve(signal);
  }
  for (const s of signals) process.on(s, onSignal);
  return { promise, trigger: (reason) => resolve(reason), release };
}

/** What the access log may hold unwritten while stderr does not keep up; past it, lines are dropped. */
const MAX_PENDING_LOG = 4 * 1024 * 1024;

/**
 * The access log's way to stderr: sonic-boom writes on the thread pool in batches of 4 KiB or every 200 ms, so a
 * slow reader of a piped stderr delays lines, never requests. Tests' io keeps its own stderr.
 */
function accessLog(io: CliIO, logger: Logger): AccessLogDestination {
  if (io.stderr !== process.stderr) return { write: (text) => io.stderr.write(text), flush: (cb) => cb() };
  const boom = new sonicBoom.SonicBoom({ fd: 2, minLength: 4096, periodicFlush: 200, maxLength: MAX_PENDING_LOG });
  // stderr is gone (EPIPE): nobody can read the log any more, so stop producing it.
  let broken = false;
  boom.on('error', () => (broken = true));
  let warned = false;
  boom.on('drop', () => {
    if (!warned) logger.warn('access log: stderr is not keeping up; dropping lines until it does');
    warned = true;
  });
  return {
    write: (text) => broken || boom.write(text),
    flush: (cb) => (broken ? cb() : boom.flush(cb)),
  };
}

export function serveCommand(io: CliIO): Command {
  const cmd = new Command('serve')
    .description('serve the model an alias points at over HTTP (POST /predict), following the alias as it moves')
    .option('--port <n>', 'port to listen on (0 picks a free one)', '8800')
    .option('--host <addr>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--model <name>', 'registered model', MODEL_NAME)
    .option('--alias <name>', 'alias to serve and follow', CHAMPION_ALIAS)
    .option('--poll <seconds>', 'how often to look at the alias (0: never)', '2')
    .option('--api-key <key>', 'require Authorization: Bearer <key> on the prediction routes (env RAINOPS_API_KEY)')
    .option('--admin-token <token>', 'enable POST /admin/reload with this bearer token (env RAINOPS_ADMIN_TOKEN)')
    .option('--workers <n>', 'processes serving the port (0: one per core)', '1')
    .option('--request-timeout <seconds>', 'time a client has to send a whole request', '10')
    .option(
      '--drain-timeout <seconds>',
      'on SIGTERM/SIGINT/SIGHUP, how long requests in flight may take before every connection is closed',
      '10',
    )
    .option(
      '--log-predictions',
      'keep every prediction in the store (predictions/<model>/<day>/...jsonl.gz) for rainops monitor',
      false,
    )
    .option('--log-sample <share>', 'with --log-predictions: the share of predictions kept', '1')
    .addHelpText(
      'after',
      '\nExamples:\n  rainops serve\n  rainops serve --port 0 --workers 0 --api-key "$KEY"\n  curl -s localhost:8800/predict -H "Content-Type: application/json" -d \'{"features": {...}}\'',
    );
  withCommon(cmd).action(async (raw: Record<string, unknown> & CommonOptions) => {
    const f = parseOptions(
      Flags,
      {
        ...raw,
        apiKey: raw.apiKey ?? io.env.RAINOPS_API_KEY,
        adminToken: raw.adminToken ?? io.env.RAINOPS_ADMIN_TOKEN,
      },
      'serve',
    );
    const workers = f.workers === 0 ? availableParallelism() : f.workers;
    const isWorker = cluster.isWorker && io.env.RAINOPS_SERVE_WORKER !== undefined;
    const stop = shutdownSignal(isWorker);
    const deps = await openDeps(io, raw, isWorker ? `serve[${String(io.env.RAINOPS_SERVE_WORKER)}]` : 'serve', {
      readonly: true,
    });
    try {
      const service = await startService(
        {
          host: f.host,
          port: f.port,
          model: f.model,
          alias: f.alias,
          pollSec: f.poll,
          apiKey: f.apiKey,
          adminToken: f.adminToken,
          requestTimeoutSec: f.requestTimeout,
          drainTimeoutSec: f.drainTimeout,
          version: VERSION,
          workers,
          isWorker,
          logPredictions: f.logPredictions
            ? { sample: f.logSample, spoolDir: join(deps.home, 'spool'), host: hostname(), pid: process.pid }
            : undefined,
        },
        { ...deps, accessLog: accessLog(io, deps.logger), onShutdownRequest: () => stop.trigger('shutdown') },
      );
      if (!isWorker) {
        io.stderr.write(
          `listening on ${service.url} (${f.model} v${service.version} via ${f.alias})${workers > 1 ? ` with ${workers} workers` : ''}\n`,
        );
        if (raw.json)
          printJson(io, { url: service.url, model: f.model, version: service.version, alias: f.alias, workers });
      }
      const why = await stop.promise;
      if (!isWorker) io.stderr.write(`serve: ${why}: finishing requests in flight, then stopping\n`);
      await service.close();
    } finally {
      stop.release();
      await deps.close();
    }
  });
  return cmd;
}
