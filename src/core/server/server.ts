import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import type { CoreDeps } from '../context.js';
import { listen, urlOf } from './listen.js';
import { createMetrics } from './metrics.js';
import type { ServerMetrics } from './metrics.js';
import { createModelHolder } from './model-holder.js';
import { createNodeListener } from './node-listener.js';
import { createPredictionLog } from './prediction-log.js';
import type { ModelHolder } from './model-holder.js';

export interface ServeOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  model: string;
  alias: string;
  /** Seconds between looks at the alias; 0 follows nothing. */
  pollSec: number;
  apiKey?: string | undefined;
  adminToken?: string | undefined;
  /** Seconds a client has to send a whole request (408 past it). */
  requestTimeoutSec: number;
  /** Seconds a shutdown waits for requests in flight before closing every connection (default 10). */
  drainTimeoutSec?: number;
  bodyLimit?: number;
  batchBodyLimit?: number;
  version?: string;
  /** serve --log-predictions: keep `sample` of the predictions in the store; batches wait in `spoolDir` while it is down. */
  logPredictions?: { sample: number; spoolDir: string; host: string; pid: number } | undefined;
}

export interface ServeDeps extends Pick<CoreDeps, 'registry' | 'store' | 'logger' | 'now'> {
  /** Where access-log lines go; written to it as they come, flushed when the server closes. */
  accessLog?: AccessLogDestination;
  /** The figures of every process, when this one is a worker of a cluster. */
  collectMetrics?: () => Promise<string>;
  metrics?: ServerMetrics;
  /** Connections handed over by a cluster's primary, which listens at `url`; without it the server listens itself. */
  connections?: { url: string; accept(onSocket: (socket: Socket) => void): void };
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  model: string;
  alias: string;
  version: number;
  holder: ModelHolder;
  metrics: ServerMetrics;
  /**
   * Stops accepting, answers requests in flight with `Connection: close`, closes idle connections, and
   * after the drain timeout closes the rest; stops following the alias.
   */
  close(): Promise<void>;
}

/**
 * Where access-log lines go: sonic-boom on stderr (buffered, written by the thread pool, so a slow reader of
 * stderr delays lines and never requests), or anything shaped like it.
 */
export interface AccessLogDestination {
  write(text: string): unknown;
  /** Calls back once everything written so far is out. */
  flush(cb: (err?: Error) => unknown): void;
}

const DEFAULT_DRAIN_SEC = 10;
/**
 * How long a keep-alive connection that was idle when shutdown began may still send its next request
 * (answered with `Connection: close`) before it is closed: a busy client's next request is already on its way.
 */
const IDLE_GRACE_MS = 250;

/**
 * Stops accepting and waits until every connection has ended. Requests in flight, and the next request of
 * a connection that was between two, are answered (with `Connection: close`, set by the listener); a
 * connection still idle after IDLE_GRACE_MS is closed; whatever is left at `drainMs` is cut.
 */
async function drain(server: Server, sockets: ReadonlySet<Socket>, drainMs: number): Promise<void> {
  // net's close, not http's: http's closes idle keep-alive connections at once, and a request a client sent
  // on one just then would meet a reset instead of an answer.
  if (server.listening) NetServer.prototype.close.call(server);
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_GRACE_MS);
  const deadline = setTimeout(() => server.closeAllConnections(), drainMs);
  try {
    while (sockets.size > 0) await once(sockets.values().next().value!, 'close');
  } finally {
    clearInterval(sweep);
    clearTimeout(deadline);
    // Now http's close: it stops the timer that looks for requests past their timeout.
    server.close();
  }
}

/** Loads MODEL@ALIAS (failing loudly when there is none), then serves it and follows the alias. */
export async function startServer(opts: ServeOptions, deps: ServeDeps): Promise<RunningServer> {
  const metrics = deps.metrics ?? createMetrics();
  const holder = createModelHolder(
    { model: opts.model, alias: opts.alias, pollMs: opts.pollSec * 1000 },
    { registry: deps.registry, store: deps.store, logger: deps.logger, metrics, now: deps.now },
  );
  const first = await holder.init();
  const log = deps.accessLog;
  const lp = opts.logPredictions;
  const predictionLog = lp
    ? createPredictionLog(
        { model: opts.model, sample: lp.sample, spoolDir: lp.spoolDir, host: lp.host, pid: lp.pid },
        { store: deps.store, logger: deps.logger },
      )
    : undefined;
  if (predictionLog) metrics.predictionLog = predictionLog.counts;
  let closing = false;
  const { listener, answeredEarly } = createNodeListener({
    holder,
    metrics,
    logger: deps.logger,
    accessLog: log ? (line) => log.write(line) : undefined,
    collectMetrics: deps.collectMetrics,
    isClosing: () => closing,
    predictionLog,
    options: {
      apiKey: opts.apiKey,
      adminToken: opts.adminToken,
      bodyLimit: opts.bodyLimit,
      batchBodyLimit: opts.batchBodyLimit,
      version: opts.version,
    },
  });
  const timeoutMs = Math.max(1, Math.round(opts.requestTimeoutSec * 1000));
  const server = createServer(
    {
      requestTimeout: timeoutMs,
      headersTimeout: Math.min(timeoutMs, 60_000),
      // How often Node looks for requests past their timeout (30 s by default, too coarse for a short timeout).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.round(timeoutMs / 4))),
      keepAliveTimeout: 5_000,
    },
    listener,
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Malformed HTTP (and timeouts Node answers itself): answer 400 when the socket still can, never crash.
    // A socket whose answer already went out (a refusal sent while its body came in) gets no second one.
    if (err.code === 'ECONNRESET' || !socket.writable || answeredEarly(socket as Socket)) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  // Tracked here rather than through the server: connections a cluster's primary hands over are not counted by it.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let url: string;
  try {
    url = deps.connections ? deps.connections.url : urlOf(await listen(server, opts.port, opts.host));
  } catch (err) {
    await holder.stop();
    throw err;
  }
  deps.connections?.accept((socket) => server.emit('connection', socket));
  await holder.start();

  const drainMs = Math.max(0, Math.round((opts.drainTimeoutSec ?? DEFAULT_DRAIN_SEC) * 1000));
  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      closing = true;
      await drain(server, sockets, drainMs);
      await holder.stop();
      // Every answered prediction is in the store (or the spool) before the process goes.
      await predictionLog?.close();
      if (log) {
        // A reader of stderr that never reads must not keep the process alive: give the log 2 s.
        let timer: NodeJS.Timeout | undefined;
        const flushed = new Promise<void>((r) => log.flush(() => r()));
        await Promise.race([flushed, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
        clearTimeout(timer);
      }
    })();
    return closed;
  };

  const at = new URL(url);
  return {
    url,
    host: at.hostname.replace(/^\[|\]$/g, ''),
    port: Number(at.port),
    model: opts.model,
    alias: opts.alias,
    version: first.version,
    holder,
    metrics,
    close,
  };
}
