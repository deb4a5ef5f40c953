import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { createApp } from './app.js';
import { HttpError } from './errors.js';
import { createPredictCore, tooLarge } from './handlers.js';
import type { AppDeps } from './handlers.js';
import type { LoadedModel } from './model-holder.js';

/**
 * The HTTP listener: POST /predict goes straight from Node's request to the shared prediction code
 * (Fetch Request/Response objects would cost a third of the single-row throughput); every other route,
 * and /predict when the bare path does not apply, goes through the Hono app.
 */
export function createNodeListener(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const app = createApp(deps);
  const viaHono = getRequestListener(app.fetch, {
    errorHandler: (err) => {
      deps.logger.warn(`request failed outside the app: ${err instanceof Error ? err.message : String(err)}`);
      return new Response(JSON.stringify({ detail: 'Internal Server Error' }), { status: 500, headers: { 'Content-Type': 'application/json' } });
    },
  });
  const core = createPredictCore(deps);
  const isClosing = deps.isClosing ?? (() => false);

  const respond = (req: IncomingMessage, res: ServerResponse, start: number, status: number, body: unknown, extra?: Record<string, string>) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const length = Buffer.byteLength(text);
    const headers: Record<string, string | number> = extra ? { 'Content-Type': 'application/json', 'Content-Length': length, ...extra } : { 'Content-Type': 'application/json', 'Content-Length': length };
    if (isClosing()) headers.Connection = 'close';
    res.writeHead(status, headers);
    res.end(text);
    core.record('POST', req.url!, status, performance.now() - start);
  };
  const fail = (req: IncomingMessage, res: ServerResponse, start: number, err: unknown, closeAfter = false) => {
    if (err instanceof HttpError) {
      respond(req, res, start, err.status, err.body, closeAfter ? { ...err.headers, Connection: 'close' } : err.headers);
      return;
    }
    deps.logger.warn(`unexpected error on POST ${req.url!}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    respond(req, res, start, 500, { detail: 'Internal Server Error' });
  };

  const predict = (req: IncomingMessage, res: ServerResponse) => {
    const start = performance.now();
    let loaded: LoadedModel;
    try {
      core.authorize(req.headers.authorization);
      // Taken once: a swap while this request runs does not change the model that answers it.
      loaded = core.requireModel();
      core.checkHeaders(req.headers['content-type'], req.headers['content-length'], core.bodyLimit);
    } catch (err) {
      // Node reads and drops a body nobody read, to keep the connection; past the limit, close it instead.
      fail(req, res, start, err, err instanceof HttpError && err.status === 413);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > core.bodyLimit) {
        over = true;
        fail(req, res, start, tooLarge(core.bodyLimit), true);
        return;
      }
      chunks.push(chunk);
    });
    // The client went away mid-body: nobody is left to answer, and Node closes the socket.
    req.on('error', () => (over = true));
    req.on('end', () => {
      if (over) return;
      try {
        const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
        respond(req, res, start, 200, core.predictOne(loaded, core.parseJson(text)));
      } catch (err) {
        fail(req, res, start, err);
      }
    });
  };

  return (req, res) => {
    if (req.method === 'POST' && (req.url === '/predict' || req.url === '/predict/')) predict(req, res);
    else void viaHono(req, res);
  };
}
