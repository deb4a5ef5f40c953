import { checkServable } from './model-holder.js';
import { startCluster, workerChannel } from './cluster.js';
import { createMetrics } from './metrics.js';
import { startServer } from './server.js';
import type { ServeDeps, ServeOptions } from './server.js';

export interface ServiceOptions extends ServeOptions {
  /** Processes serving the port; more than 1 forks workers through node:cluster. */
  workers: number;
  /** This process is one of those workers (the primary forked it). */
  isWorker: boolean;
}

export interface ServiceDeps extends Omit<ServeDeps, 'metrics' | 'collectMetrics'> {
  /** Called when the primary asks this worker to stop, or goes away. */
  onShutdownRequest(): void;
}

export interface RunningService {
  url: string;
  version: number;
  workers: number;
  close(): Promise<void>;
}

/** `rainops serve`: one server in this process, or a primary and its workers, or one such worker. */
export async function startService(opts: ServiceOptions, deps: ServiceDeps): Promise<RunningService> {
  if (opts.workers > 1 && !opts.isWorker) {
    // Fail here, once, rather than in every worker.
    await checkServable(deps.registry, opts.model, opts.alias);
    // A worker drains for at most drainTimeoutSec; past that and a margin, the primary kills it.
    return startCluster(
      { workers: opts.workers, graceMs: (opts.drainTimeoutSec ?? 10) * 1000 + 5000, host: opts.host, port: opts.port },
      { logger: deps.logger },
    );
  }
  const metrics = createMetrics();
  const channel = opts.isWorker ? workerChannel(metrics, deps.onShutdownRequest) : null;
  try {
    const connections = channel ? { url: channel.url, accept: channel.acceptConnections } : undefined;
    const s = await startServer(opts, { ...deps, metrics, collectMetrics: channel?.collectMetrics, connections });
    channel?.announce(s.version);
    return {
      url: s.url,
      version: s.version,
      workers: 1,
      close: async () => {
        await s.close();
        channel?.dispose();
      },
    };
  } catch (err) {
    channel?.dispose();
    throw err;
  }
}
