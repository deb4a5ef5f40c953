import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { Command } from 'commander';
import { z } from 'zod';
import { cliActor } from '../core/aliases.js';
import { MODEL_NAME } from '../core/context.js';
import { listen, urlOf } from '../core/server/listen.js';
import { createUiApp } from '../ui/app.js';
import type { CliIO } from './io.js';
import { openDeps, parseOptions, printJson, registryName, withCommon } from './shared.js';
import type { CommonOptions } from './shared.js';

const Flags = z.object({
  port: z.coerce
    .number({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(0, { error: 'expected a port from 0 to 65535' })
    .max(65_535, { error: 'expected a port from 0 to 65535' }),
  host: z.string().min(1),
  model: registryName('model'),
  adminToken: z.string().min(1, { error: 'expected a non-empty token' }).optional(),
});

/** Resolves on the first SIGINT/SIGTERM, taking them over from main() while the server runs. */
function untilSignal(): { promise: Promise<string>; release(): void } {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const saved = new Map(signals.map((s) => [s, process.listeners(s)]));
  for (const [s, fns] of saved) for (const fn of fns) process.removeListener(s, fn);
  let resolve: (s: string) => void = () => {};
  const promise = new Promise<string>((r) => (resolve = r));
  const on = (s: NodeJS.Signals) => resolve(s);
  for (const s of signals) process.on(s, on);
  return {
    promise,
    release() {
      for (const s of signals) process.removeListener(s, on);
      for (const [s, fns] of saved) for (const fn of fns) process.once(s, fn as NodeJS.SignalsListener);
    },
  };
}

export function uiCommand(io: CliIO): Command {
  const cmd = new Command('ui')
    .description('a web interface for runs, models, data sets and predictions, over the same registry and store')
    .option('--port <n>', 'port to listen on (0 picks a free one)', '8801')
    .option('--host <addr>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--model <name>', 'model the predict page scores with (through its prod_best alias)', MODEL_NAME)
    .option(
      '--admin-token <token>',
      'allow promote and rollback from the pages after signing in with this token (env RAINOPS_UI_ADMIN_TOKEN)',
    )
    .addHelpText('after', '\nExamples:\n  rainops ui\n  rainops ui --port 0 --host 0.0.0.0 --admin-token "$TOKEN"');
  withCommon(cmd).action(async (raw: Record<string, unknown> & CommonOptions) => {
    const f = parseOptions(Flags, { ...raw, adminToken: raw.adminToken ?? io.env.RAINOPS_UI_ADMIN_TOKEN }, 'ui');
    const stop = untilSignal();
    // Read-only unless alias moves are allowed: then the registry must be writable.
    const deps = await openDeps(io, raw, 'ui', { readonly: f.adminToken === undefined });
    const app = createUiApp({ ...deps, adminToken: f.adminToken, model: f.model, actor: `${cliActor()} (ui)` });
    const server = createServer(getRequestListener(app.fetch));
    try {
      const url = urlOf(await listen(server, f.port, f.host));
      io.stderr.write(`rainops ui on ${url}${f.adminToken ? ' (promote and rollback after signing in)' : ''}\n`);
      if (raw.json) printJson(io, { url });
      const why = await stop.promise;
      io.stderr.write(`ui: ${why}: stopping\n`);
    } finally {
      stop.release();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await app.close();
      await deps.close();
    }
  });
  return cmd;
}
