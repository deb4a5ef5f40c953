import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { createServer as createNetServer } from 'node:net';
import type { Socket } from 'node:net';
import type { Logger } from '../context.js';
import { RainopsError } from '../errors.js';
import { renderMetrics } from './metrics.js';
import { listen, urlOf } from './listen.js';
import type { MetricsSnapshot, ServerMetrics } from './metrics.js';

/** Messages between the primary and its workers (over the cluster's IPC channel). */
type Message =
  | { type: 'rainops:ready'; version: number }
  | { type: 'rainops:connection' }
  | { type: 'rainops:metrics?'; id: number }
  | { type: 'rainops:metrics'; id: number; text: string }
  | { type: 'rainops:snapshot?'; id: number }
  | { type: 'rainops:snapshot'; id: number; snapshot: MetricsSnapshot }
  | { type: 'rainops:shutdown' };

const isMessage = (m: unknown): m is Message =>
  typeof m === 'object' &&
  m !== null &&
  typeof (m as { type?: unknown }).type === 'string' &&
  (m as { type: string }).type.startsWith('rainops:');

/** How a worker learns the primary's address (it does not listen itself). */
const URL_VARIABLE = 'RAINOPS_SERVE_URL';

export interface ClusterOptions {
  workers: number;
  /** How long a worker may take to drain before it is killed. */
  graceMs: number;
  host: string;
  port: number;
}

export interface RunningCluster {
  url: string;
  version: number;
  workers: number;
  /** Stops accepting, asks every worker to drain and waits for them (SIGKILL after graceMs). */
  close(): Promise<void>;
}

/**
 * Listens on the port, forks `workers` copies of this command and hands each accepted connection to one of
 * them in turn; each worker opens the registry, follows the alias and serves the connections it is given.
 * Resolves once every worker serves; a worker that dies later is replaced.
 *
 * The primary accepts (not node:cluster's shared handle) so that a shutdown can stop accepting first and
 * only then drain the workers: with a shared handle the port stays open until the last worker leaves, and
 * connections accepted in that moment are reset.
 */
export async function startCluster(opts: ClusterOptions, deps: { logger: Logger }): Promise<RunningCluster> {
  const live = new Set<Worker>();
  const serving: Worker[] = [];
  // Connections accepted while no worker serves yet (at start, or while one is replaced).
  const waiting: Socket[] = [];
  let turn = 0;
  let closing = false;
  let nextMetricsId = 0;

  const send = (w: Worker, m: Message) => {
    if (w.isConnected()) w.send(m);
  };

  const handOff = (socket: Socket) => {
    const targets = serving.filter((w) => w.isConnected());
    if (targets.length === 0) {
      if (closing) socket.destroy();
      else waiting.push(socket);
      return;
    }
    const w = targets[turn++ % targets.length]!;
    // On success the socket is the worker's (and closed here); on failure (the worker just died) try another.
    w.send({ type: 'rainops:connection' } satisfies Message, socket, (err: Error | null) => {
      if (!err) return;
      const at = serving.indexOf(w);
      if (at >= 0) serving.splice(at, 1);
      handOff(socket);
    });
  };
  // Paused: the bytes stay in the kernel until the worker that serves the connection reads them.
  const server = createNetServer({ pauseOnConnect: true }, handOff);
  const url = urlOf(await listen(server, opts.port, opts.host));

  // A worker asks for the figures of all: ask each for a snapshot, add them up, answer.
  const gatherMetrics = (asker: Worker, id: number) => {
    const snapshots: MetricsSnapshot[] = [];
    const own = ++nextMetricsId;
    const targets = [...live].filter((w) => w.isConnected());
    let answered = 0;
    const finish = () => {
      clearTimeout(timer);
      for (const w of targets) w.off('message', onSnapshot);
      renderMetrics(snapshots).then(
        (text) => send(asker, { type: 'rainops:metrics', id, text }),
        (err: unknown) => deps.logger.warn(`metrics: cannot add up the workers' figures (${String(err)})`),
      );
    };
    const onSnapshot = (m: unknown) => {
      if (!isMessage(m) || m.type !== 'rainops:snapshot' || m.id !== own) return;
      snapshots.push(m.snapshot);
      if (++answered === targets.length) finish();
    };
    const timer = setTimeout(finish, 1000);
    for (const w of targets) {
      w.on('message', onSnapshot);
      send(w, { type: 'rainops:snapshot?', id: own });
    }
  };

  const fork = (index: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const w = cluster.fork({ RAINOPS_SERVE_WORKER: String(index), [URL_VARIABLE]: url });
      live.add(w);
      let ready = false;
      w.on('message', (m: unknown) => {
        if (!isMessage(m)) return;
        if (m.type === 'rainops:ready') {
          ready = true;
          serving.push(w);
          for (const socket of waiting.splice(0)) handOff(socket);
          resolve(m.version);
        } else if (m.type === 'rainops:metrics?') gatherMetrics(w, m.id);
      });
      w.on('exit', (code, signal) => {
        live.delete(w);
        if (serving.includes(w)) serving.splice(serving.indexOf(w), 1);
        if (!ready) {
          reject(
            new RainopsError(`serve: worker ${index} exited (${signal ?? `code ${String(code)}`}) before serving`),
          );
          return;
        }
        if (closing) return;
        deps.logger.warn(
          `worker ${index} (pid ${String(w.process.pid)}) exited (${signal ?? `code ${String(code)}`}); starting another`,
        );
        setTimeout(() => {
          if (!closing)
            fork(index).catch((err: unknown) => deps.logger.warn(err instanceof Error ? err.message : String(err)));
        }, 1000).unref();
      });
    });

  const close = async () => {
    closing = true;
    // Stop accepting first; connections already handed off reach their worker before its shutdown message.
    server.close();
    for (const socket of waiting.splice(0)) socket.destroy();
    const exits = [...live].map(
      (w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))),
    );
    for (const w of live) send(w, { type: 'rainops:shutdown' });
    const kill = setTimeout(() => {
      for (const w of live) w.process.kill('SIGKILL');
    }, opts.graceMs);
    await Promise.all(exits);
    clearTimeout(kill);
  };

  try {
    const versions = await Promise.all(Array.from({ length: opts.workers }, (_, i) => fork(i + 1)));
    return { url, version: versions[0]!, workers: opts.workers, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The worker's side of the channel: takes connections, answers snapshot requests, asks the primary for the cluster's figures. */
export function workerChannel(
  metrics: ServerMetrics,
  onShutdown: () => void,
): {
  /** Where the primary listens. */
  url: string;
  collectMetrics(): Promise<string>;
  /** Where the connections the primary hands over go (from the first, once the server is up). */
  acceptConnections(onSocket: (socket: Socket) => void): void;
  /** Tells the primary that this worker serves `version` and takes connections. */
  announce(version: number): void;
  dispose(): void;
} {
  const pending = new Map<number, (text: string) => void>();
  let nextId = 0;
  let onSocket: ((socket: Socket) => void) | null = null;
  const post = (m: Message) => {
    if (process.connected) process.send?.(m);
  };
  const onMessage = (m: unknown, handle: unknown) => {
    if (!isMessage(m)) return;
    if (m.type === 'rainops:connection') {
      const socket = handle as Socket | undefined;
      if (socket && onSocket) onSocket(socket);
      else socket?.destroy();
    } else if (m.type === 'rainops:snapshot?') {
      const id = m.id;
      void metrics.snapshot().then((snapshot) => post({ type: 'rainops:snapshot', id, snapshot }));
    } else if (m.type === 'rainops:metrics') {
      pending.get(m.id)?.(m.text);
      pending.delete(m.id);
    } else if (m.type === 'rainops:shutdown') onShutdown();
  };
  process.on('message', onMessage);
  // The primary went away: nobody will route connections to us any more.
  process.on('disconnect', onShutdown);
  return {
    // The environment the primary forked this worker with, read here, in the one place that is a worker's.
    url: process.env[URL_VARIABLE] ?? '',
    collectMetrics: () =>
      new Promise((resolve) => {
        const id = ++nextId;
        // The primary may be busy or gone: answer with this worker's figures rather than hang the scrape.
        const timer = setTimeout(() => {
          pending.delete(id);
          void metrics.render().then((own) => resolve(`# cluster figures unavailable; this worker's only\n${own}`));
        }, 2000);
        pending.set(id, (text) => {
          clearTimeout(timer);
          resolve(text);
        });
        post({ type: 'rainops:metrics?', id });
      }),
    acceptConnections: (fn) => (onSocket = fn),
    announce: (version) => post({ type: 'rainops:ready', version }),
    dispose: () => {
      process.off('message', onMessage);
      process.off('disconnect', onShutdown);
    },
  };
}
