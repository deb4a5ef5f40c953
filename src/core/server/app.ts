import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { snakeKeys } from '../naming.js';
import { registerDocs } from './docs.js';
import { HttpError } from './errors.js';
import { bearerCheck, createPredictCore, DISCARD_LIMIT, tooLarge } from './handlers.js';
import type { AppDeps, PredictCore } from './handlers.js';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.js';
import type { ModelInfo } from './model-holder.js';
import { buildOpenApi } from './openapi.js';

export type { AppDeps, AppOptions } from './handlers.js';
export { MIB } from './handlers.js';

/**
 * A request header. On Node the raw header object is read directly: building the Fetch Headers that
 * `c.req.header()` returns costs more than scoring a row.
 */
function header(c: Context, name: string): string | undefined {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (incoming) {
    const v = incoming.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  }
  return c.req.header(name);
}

const tooLargeClosing = (limit: number) => new HttpError(413, tooLarge(limit).body, { Connection: 'close' });

/**
 * The body as text, 413 past `limit`. A body past the limit is still read (and dropped) up to DISCARD_LIMIT
 * before the 413 goes: closing while the client still sends would reset the connection before it reads the answer.
 */
async function readLimited(req: Request, limit: number): Promise<string> {
  if (!req.body) return '';
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size <= limit) chunks.push(value);
    else if (size > limit + DISCARD_LIMIT) {
      await reader.cancel();
      throw tooLargeClosing(limit);
    }
  }
  if (size > limit) throw tooLargeClosing(limit);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a JSON body: 415 for another type, 413 past the limit, 400 for bad JSON, 422 for none. */
async function readJson(c: Context, core: PredictCore, limit: number): Promise<unknown> {
  return core.parseJson(await readText(c, core, limit));
}

/** Reads a body's text: 415 for a type other than JSON, 413 past the limit. */
async function readText(c: Context, core: PredictCore, limit: number): Promise<string> {
  core.checkHeaders(header(c, 'content-type'), undefined, limit);
  // A body announced too large is read and dropped (below) before the 413, unless it is far too large to bother.
  const length = header(c, 'content-length');
  if (length !== undefined && Number(length) > limit + DISCARD_LIMIT) throw tooLargeClosing(limit);
  try {
    return await readLimited(c.req.raw, limit);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, {
      detail: `could not read the request body: ${err instanceof Error ? err.message : String(err)}`,
    });
  }
}

/** The prediction API as a Hono app; no port, so tests call `app.request()`. */
export function createApp(deps: AppDeps): Hono {
  const { holder, metrics, logger } = deps;
  const o = deps.options ?? {};
  const core = createPredictCore(deps);
  const checkAdmin = o.adminToken ? bearerCheck(o.adminToken, 'rainops-admin') : null;
  const isClosing = deps.isClosing ?? (() => false);
  let openapi: string | null = null;

  const app = new Hono();

  app.use(async (c, next) => {
    const start = performance.now();
    await next();
    if (isClosing()) c.res.headers.set('Connection', 'close');
    core.record(c.req.method, c.req.path, c.res.status, performance.now() - start);
  });

  const predict = async (c: Context) => {
    core.authorize(header(c, 'authorization'));
    // Taken once: a swap while this request runs does not change the model that answers it.
    const loaded = core.requireModel();
    return c.body(core.predictOne(loaded, await readJson(c, core, core.bodyLimit)), 200, {
      'Content-Type': 'application/json',
    });
  };
  const predictBatch = async (c: Context) => {
    core.authorize(header(c, 'authorization'));
    const loaded = core.requireModel();
    const text = await readText(c, core, core.batchBodyLimit);
    return c.json(await core.predictBatchText(loaded, text));
  };

  app.get('/', (c) =>
    c.json({
      message: 'Welcome to rainops: will it rain tomorrow? POST /predict with {"features": {...}} (see /docs).',
      docs: '/docs',
    }),
  );
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/ready', (c) => {
    const loaded = holder.current();
    if (!loaded) return c.json({ status: 'loading', model: holder.model, version: null }, 503);
    // Serving, but not what the alias says (a version that failed to load, a registry file gone): not ready.
    const problem = holder.problem?.() ?? null;
    if (problem) return c.json({ status: 'stale', model: holder.model, version: loaded.version, reason: problem }, 503);
    return c.json({ status: 'ready', model: holder.model, version: loaded.version });
  });
  // snake_case throughout, also for a bundle that recorded its hyperparameters in camelCase (maxDepth).
  app.get('/model', (c) => c.json(snakeKeys(core.requireModel().info) as ModelInfo));
  app.get('/metrics', async (c) =>
    c.body(deps.collectMetrics ? await deps.collectMetrics() : await metrics.render(), 200, {
      'Content-Type': PROMETHEUS_CONTENT_TYPE,
    }),
  );
  app.get('/openapi.json', (c) => {
    openapi ??= JSON.stringify(
      buildOpenApi({
        version: o.version ?? '0.0.0',
        bodyLimit: core.bodyLimit,
        batchBodyLimit: core.batchBodyLimit,
        apiKey: Boolean(o.apiKey),
        admin: checkAdmin !== null,
      }),
    );
    return c.body(openapi, 200, { 'Content-Type': 'application/json' });
  });
  registerDocs(app);

  app.post('/predict', predict);
  app.post('/predict/', predict);
  app.post('/predict/batch', predictBatch);
  app.on(['GET', 'PUT', 'PATCH', 'DELETE'], ['/predict', '/predict/', '/predict/batch', '/admin/reload'], (c) =>
    c.json({ detail: 'Method Not Allowed' }, 405, { Allow: 'POST' }),
  );

  app.post('/admin/reload', async (c) => {
    if (!checkAdmin) return c.json({ detail: 'Not Found' }, 404);
    const denied = checkAdmin(header(c, 'authorization'));
    if (denied) throw denied;
    const outcome = await holder.refresh({ force: true });
    return c.json(outcome);
  });

  app.notFound((c) => c.json({ detail: 'Not Found' }, 404));
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(err.body, err.status, err.headers);
    // Unknown errors: a 500 without the stack, which goes to the log.
    logger.warn(`unexpected error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
    return c.json({ detail: 'Internal Server Error' }, 500);
  });
  return app;
}
