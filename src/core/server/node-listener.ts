import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { getRequestListener, RequestError } from '@hono/node-server';
import { createApp } from './app.js';
import { HttpError } from './errors.js';
import { createPredictCore, DISCARD_LIMIT, tooLarge } from './handlers.js';
import type { AppDeps } from './handlers.js';
import type { LoadedModel } from './model-holder.js';

/** The Host a request without one (HTTP/1.0) is served under: routes never look at it. */
const DEFAULT_HOST = 'localhost';

/**
 * The HTTP listener: POST /predict and /predict/batch go straight from Node's request to the shared
 * prediction code (Fetch Request/Response objects would cost a third of the single-row throughput); every
 * other route, and those two when the bare path does not apply, go through the Hono app.
 */
export function createNodeListener(deps: AppDeps): {
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** True while a socket's answer went out before its request body was read: Node must not answer it again. */
  answeredEarly(socket: Socket): boolean;
} {
  const app = createApp(deps);
  const core = createPredictCore(deps);
  const isClosing = deps.isClosing ?? (() => false);
  const early = new WeakSet<Socket>();
  // The request Hono is building a URL for: its errors come back through errorHandler, synchronously.
  let building: { req: IncomingMessage; start: number } | null = null;

  const viaHono = getRequestListener(app.fetch, {
    hostname: DEFAULT_HOST,
    errorHandler: (err) => {
      const at = building;
      // A request Hono cannot turn into a URL (an invalid Host, `OPTIONS *`): the client's fault, not ours.
      const status = err instanceof RequestError ? 400 : 500;
      if (status === 500)
        deps.logger.warn(`request failed outside the app: ${err instanceof Error ? err.message : String(err)}`);
      const detail =
        status === 400
          ? `Bad Request: ${err instanceof Error ? err.message : 'malformed request'}`
          : 'Internal Server Error';
      if (at) core.record(at.req.method ?? '-', at.req.url ?? '', status, performance.now() - at.start);
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (isClosing()) headers.Connection = 'close';
      return new Response(JSON.stringify({ detail }), { status, headers });
    },
  });

  const respond = (
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
    status: number,
    body: unknown,
    extra?: Record<string, string>,
  ) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const length = Buffer.byteLength(text);
    // Literal objects: this runs for every prediction.
    const headers: Record<string, string | number> = extra
      ? { 'Content-Type': 'application/json', 'Content-Length': length, ...extra }
      : { 'Content-Type': 'application/json', 'Content-Length': length };
    if (isClosing()) headers.Connection = 'close';
    res.writeHead(status, headers);
    if (req.complete) res.end(text);
    else answerBeforeBody(req, res, text);
    core.record('POST', req.url!, status, performance.now() - start);
  };

  /**
   * An answer given before the body arrived (a refusal) goes out at once, but the connection ends only
   * once the body was read and dropped (up to DISCARD_LIMIT): closing a socket that still receives makes
   * the kernel reset it, and the client loses the answer (EPIPE in Node's fetch).
   */
  const answerBeforeBody = (req: IncomingMessage, res: ServerResponse, text: string) => {
    const socket = req.socket;
    early.add(socket);
    res.write(text);
    let seen = 0;
    const finish = () => {
      req.off('data', onData);
      early.delete(socket);
      if (!res.writableEnded) res.end();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen <= DISCARD_LIMIT) return;
      // Past the bound, reading on would let a client make us read forever: the socket goes, reset or not.
      finish();
      socket.destroy();
    };
    req.on('data', onData);
    req.once('end', finish);
    req.once('error', finish);
    req.resume();
  };

  const fail = (req: IncomingMessage, res: ServerResponse, start: number, err: unknown) => {
    if (err instanceof HttpError) {
      // Past the size limit the connection closes once the body is dropped: the client is sending too much anyway.
      respond(
        req,
        res,
        start,
        err.status,
        err.body,
        err.status === 413 ? { ...err.headers, Connection: 'close' } : err.headers,
      );
      return;
    }
    deps.logger.warn(
      `unexpected error on POST ${req.url!}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    respond(req, res, start, 500, { detail: 'Internal Server Error' });
  };

  /**
   * Reads the body up to `limit`, then hands it to `handle` (`text()` decodes it); refusals (401, 503, 415,
   * 413) come first. With `decodeEarly`, each chunk is decoded as it arrives rather than megabytes at the end.
   */
  const withBody = (
    req: IncomingMessage,
    res: ServerResponse,
    limit: number,
    handle: (loaded: LoadedModel, text: () => string, start: number) => void,
    decodeEarly = false,
  ) => {
    const start = performance.now();
    let loaded: LoadedModel;
    try {
      core.authorize(req.headers.authorization);
      // Taken once: a swap while this request runs does not change the model that answers it.
      loaded = core.requireModel();
      core.checkHeaders(req.headers['content-type'], req.headers['content-length'], limit);
    } catch (err) {
      fail(req, res, start, err);
      return;
    }
    const chunks: Buffer[] = [];
    // Batches only: a decoder, and the text decoded so far.
    const decoder = decodeEarly ? new StringDecoder('utf8') : null;
    let parts: string[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        if (decoder) parts.push(decoder.write(chunk));
        else chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.off('end', onEnd);
      chunks.length = 0;
      parts = [];
      fail(req, res, start, tooLarge(limit));
    };
    const text = () => {
      if (decoder) {
        const joined = parts.join('') + decoder.end();
        // Let the pieces go: a batch takes a while, and six batches of 8 MiB add up.
        parts = [];
        return joined;
      }
      return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
    };
    const onEnd = () => handle(loaded, text, start);
    req.on('data', onData);
    req.on('end', onEnd);
    // The client went away mid-body: nobody is left to answer, and Node closes the socket.
    req.on('error', () => req.off('end', onEnd));
  };

  const predict = (req: IncomingMessage, res: ServerResponse) =>
    withBody(req, res, core.bodyLimit, (loaded, text, start) => {
      try {
        const id = req.headers['x-request-id'];
        const body = text();
        respond(
          req,
          res,
          start,
          200,
          core.predictOne(loaded, core.parseJson(body), typeof id === 'string' ? id : undefined, body),
        );
      } catch (err) {
        fail(req, res, start, err);
      }
    });

  const predictBatch = (req: IncomingMessage, res: ServerResponse) =>
    withBody(
      req,
      res,
      core.batchBodyLimit,
      (loaded, text, start) => {
        // Batch work yields to other requests as it goes (see predictBatchText); joining the text and writing
        // the answer take a few milliseconds at most.
        const answer = async () => JSON.stringify(await core.predictBatchText(loaded, text()));
        answer().then(
          (json) => respond(req, res, start, 200, json),
          (err: unknown) => fail(req, res, start, err),
        );
      },
      true,
    );

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST') {
      const url = req.url;
      if (url === '/predict' || url === '/predict/') return predict(req, res);
      if (url === '/predict/batch') return predictBatch(req, res);
    }
    building = { req, start: performance.now() };
    void viaHono(req, res);
    building = null;
  };
  return { listener, answeredEarly: (socket) => early.has(socket) };
}
