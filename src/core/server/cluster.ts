import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import type { Logger } from '../context.js';
import { RainopsError } from '../errors.js';
import { renderMetrics } from './metrics.js';
import type { MetricsSnapshot, ServerMetrics } from './metrics.js';

/** Messages between the primary and its workers (over the cluster's IPC channel). */
type Message =
  | { type: 'rainops:listening'; url: string; version: number }
  | { type: 'rainops:metrics?'; id: number }
  | { type: 'rainops:metrics'; id: number; text: string }
  | { type: 'rainops:snapshot?'; id: number }
  | { type: 'rainops:snapshot'; id: number; snapshot: MetricsSnapshot }
  | { type: 'rainops:shutdown' };

const isMessage = (m: unknown): m is Message => typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith('rainops:');

export interface RunningCluster {
  url: string;
  version: number;
  workers: number;
  /** Asks every worker to shut down gracefully and waits for them (SIGKILL after graceMs). */
  close(): Promise<void>;
}

/**
 * Forks `workers` copies of this command; each opens the registry, follows the alias and serves on the
 * shared port. Resolves once every worker listens; a worker that dies later is replaced.
 */
export async function startCluster(opts: { workers: number; graceMs: number }, deps: { logger: Logger }): Promise<RunningCluster> {
  const live = new Set<Worker>();
  let closing = false;
  let nextMetricsId = 0;

  const send = (w: Worker, m: Message) => {
    if (w.isConnected()) w.send(m);
  };

  // A worker asks for the figures of all: ask each for a snapshot, add them up, answer.
  const gatherMetrics = (asker: Worker, id: number) => {
    const snapshots: MetricsSnapshot[] = [];
    const own = ++nextMetricsId;
    const targets = [...live].filter((w) => w.isConnected());
    let answered = 0;
    const finish = () => {
      clearTimeout(timer);
      for (const w of targets) w.off('message', onSnapshot);
      send(asker, { type: 'rainops:metrics', id, text: renderMetrics(snapshots) });
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

  const fork = (index: number): Promise<{ url: string; version: number }> =>
    new Promise((resolve, reject) => {
      const w = cluster.fork({ RAINOPS_SERVE_WORKER: String(index) });
      live.add(w);
      let listening = false;
      w.on('message', (m: unknown) => {
        if (!isMessage(m)) return;
        if (m.type === 'rainops:listening') {
          listening = true;
          resolve({ url: m.url, version: m.version });
        } else if (m.type === 'rainops:metrics?') gatherMetrics(w, m.id);
      });
      w.on('exit', (code, signal) => {
        live.delete(w);
        if (!listening) {
          reject(new RainopsError(`serve: worker ${index} exited (${signal ?? `code ${String(code)}`}) before listening`));
          return;
        }
        if (closing) return;
        deps.logger.warn(`worker ${index} (pid ${String(w.process.pid)}) exited (${signal ?? `code ${String(code)}`}); starting another`);
        setTimeout(() => {
          if (!closing) fork(index).catch((err: unknown) => deps.logger.warn(err instanceof Error ? err.message : String(err)));
        }, 1000).unref();
      });
    });

  const close = async () => {
    closing = true;
    const exits = [...live].map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    for (const w of live) send(w, { type: 'rainops:shutdown' });
    const kill = setTimeout(() => {
      for (const w of live) w.process.kill('SIGKILL');
    }, opts.graceMs);
    await Promise.all(exits);
    clearTimeout(kill);
  };

  try {
    const started = await Promise.all(Array.from({ length: opts.workers }, (_, i) => fork(i + 1)));
    const first = started[0]!;
    return { url: first.url, version: first.version, workers: opts.workers, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The worker's side of the channel: answers snapshot requests and asks the primary for the cluster's figures. */
export function workerChannel(metrics: ServerMetrics, onShutdown: () => void): {
  collectMetrics(): Promise<string>;
  announce(url: string, version: number): void;
  dispose(): void;
} {
  const pending = new Map<number, (text: string) => void>();
  let nextId = 0;
  const post = (m: Message) => {
    if (process.connected) process.send?.(m);
  };
  const onMessage = (m: unknown) => {
    if (!isMessage(m)) return;
    if (m.type === 'rainops:snapshot?') post({ type: 'rainops:snapshot', id: m.id, snapshot: metrics.snapshot() });
    else if (m.type === 'rainops:metrics') {
      pending.get(m.id)?.(m.text);
      pending.delete(m.id);
    } else if (m.type === 'rainops:shutdown') onShutdown();
  };
  process.on('message', onMessage);
  // The primary went away: nobody will route connections to us any more.
  process.on('disconnect', onShutdown);
  return {
    collectMetrics: () =>
      new Promise((resolve) => {
        const id = ++nextId;
        // The primary may be busy or gone: answer with this worker's figures rather than hang the scrape.
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve(`# cluster figures unavailable; this worker's only\n${metrics.render()}`);
        }, 2000);
        pending.set(id, (text) => {
          clearTimeout(timer);
          resolve(text);
        });
        post({ type: 'rainops:metrics?', id });
      }),
    announce: (url, version) => post({ type: 'rainops:listening', url, version }),
    dispose: () => {
      process.off('message', onMessage);
      process.off('disconnect', onShutdown);
    },
  };
}
