/** @jsxImportSource hono/jsx */
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { promoteVersion, rollbackAlias } from '../core/aliases.js';
import { CHAMPION_ALIAS } from '../core/context.js';
import { ConflictError, NotFoundError, RainopsError, UsageError } from '../core/errors.js';
import { headToHead, loadPredictor } from '../core/registration.js';
import { artifactKey, contentType } from './artifacts.js';
import { UI_CSS, UI_JS } from './assets.js';
import { createAdminAuth, SESSION_COOKIE } from './auth.js';
import { comparePage, parseRunIds } from './compare-page.js';
import { datasetPage, datasetsListPage } from './datasets-page.js';
import { featureSummaryCache } from './feature-summary.js';
import type { UiDeps } from './deps.js';
import { ErrorPage, FAVICON } from './layout.js';
import { monitorPage } from './monitor-page.js';
import { confirmPage, findModel, loginPage, modelPage, modelsListPage } from './models-page.js';
import type { Admin, Confirmation } from './models-page.js';
import { createPredictService, formToFeatures, predictError, predictPage } from './predict-page.js';
import { runPage } from './run-page.js';
import { parseRunsQuery, runsPage } from './runs-page.js';

export type { UiDeps } from './deps.js';

/** Only this server's own scripts, styles and images; no inline script, no framing, forms post only here. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/** Artifacts are shown as they are stored: a script inside an SVG must never run, whoever wrote the file. */
const ARTIFACT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox";
const FORM_LIMIT = 64 * 1024;

export type UiApp = Hono & { close(): Promise<void> };

/** A `next` that stays on this site (a path, not `//host`), else the home page. */
const localPath = (next: string | undefined) => (next && /^\/(?!\/)/.test(next) && !next.includes('\\') ? next : '/');

function statusOf(err: unknown): 400 | 404 | 409 | 500 {
  if (err instanceof NotFoundError) return 404;
  if (err instanceof UsageError) return 400;
  if (err instanceof ConflictError) return 409;
  return 500;
}

/** The web UI over the registry and store: server-rendered pages, no port (tests call `app.request()`). */
export function createUiApp(deps: UiDeps): UiApp {
  const auth = createAdminAuth(deps.adminToken);
  const predictor = createPredictService(deps);
  const summaries = featureSummaryCache(deps.store);
  const actor = deps.actor ?? 'rainops ui';
  const app = new Hono();

  app.use(async (c, next) => {
    await next();
    const h = c.res.headers;
    if (!h.has('Content-Security-Policy')) h.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    h.set('X-Content-Type-Options', 'nosniff');
    h.set('Referrer-Policy', 'no-referrer');
    h.set('X-Frame-Options', 'DENY');
  });
  app.use('*', async (c, next) => {
    if (c.req.method !== 'POST') return next();
    return bodyLimit({ maxSize: FORM_LIMIT, onError: (cc) => cc.text('form too large', 413) })(c, next);
  });

  const sessionId = (c: Context) => getCookie(c, SESSION_COOKIE);
  const admin = (c: Context): Admin => {
    if (!auth.enabled) return { mode: 'off' };
    const s = auth.session(sessionId(c));
    return s ? { mode: 'signed-in', csrf: s.csrf } : { mode: 'signed-out' };
  };
  const form = async (c: Context): Promise<Record<string, string>> => {
    const body = await c.req.parseBody();
    return Object.fromEntries(Object.entries(body).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])));
  };

  app.get('/assets/ui.css', (c) =>
    c.body(UI_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'max-age=300' }),
  );
  app.get('/assets/ui.js', (c) =>
    c.body(UI_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'max-age=300' }),
  );
  app.get('/assets/favicon.svg', (c) => c.body(FAVICON, 200, { 'Content-Type': 'image/svg+xml' }));
  app.get('/favicon.ico', (c) => c.redirect('/assets/favicon.svg', 301));

  app.get('/', async (c) => {
    const rq = parseRunsQuery(
      (n) => c.req.query(n),
      (n) => c.req.queries(n) ?? [],
    );
    const { page, status } = await runsPage(deps, rq);
    return c.html(page, status);
  });
  app.get('/runs/:id', async (c) => c.html(await runPage(deps, c.req.param('id'))));
  app.get('/runs/:id/artifacts/*', async (c) => {
    const run = await deps.registry.getRun(c.req.param('id'));
    const prefix = `/runs/${c.req.param('id')}/artifacts/`;
    const path = decodeURIComponent(c.req.path.slice(prefix.length));
    const a = run.artifacts.find((x) => x.path === path);
    const key = a ? artifactKey(deps.store, a) : null;
    if (!a || !key) throw new NotFoundError(`run ${run.id} has no artifact ${path} in this store`);
    const stream = await deps.store.stream(key);
    const name = path.split('/').pop() ?? 'artifact';
    const headers: Record<string, string> = {
      'Content-Type': contentType(path),
      'Content-Security-Policy': ARTIFACT_POLICY,
      'Content-Length': String(a.size),
    };
    if (c.req.query('download') !== undefined)
      headers['Content-Disposition'] = `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"`;
    return c.body(Readable.toWeb(stream) as ReadableStream, 200, headers);
  });
  app.get('/compare', async (c) => {
    const ids = parseRunIds(c.req.queries('runs') ?? []);
    return c.html(await comparePage(deps, ids, c.req.query('changed') === '1'));
  });

  app.get('/models', async (c) => c.html(await modelsListPage(deps)));
  app.get('/models/:name', async (c) => {
    const moved = c.req.query('moved');
    return c.html(await modelPage(deps, c.req.param('name'), admin(c), CHAMPION_ALIAS, moved ? moved : undefined));
  });

  app.get('/datasets', async (c) => c.html(await datasetsListPage(deps)));
  app.get('/datasets/:id', async (c) => c.html(await datasetPage(deps, c.req.param('id'), summaries)));

  app.get('/monitor', async (c) => c.html(await monitorPage(deps, c.req.query('run') || undefined)));

  app.get('/predict', (c) => c.html(predictPage({ model: predictor.model })));
  app.post('/predict', async (c) => {
    const values = await form(c);
    try {
      const answer = await predictor.predict({ features: formToFeatures(values) });
      return c.html(predictPage({ model: predictor.model, values, answer }));
    } catch (err) {
      const e = predictError(err);
      if (!e) throw err;
      return c.html(
        predictPage({ model: predictor.model, values, error: e.message, ...(e.issues ? { issues: e.issues } : {}) }),
        e.status,
      );
    }
  });

  // Writes: the admin token once, then an HttpOnly session cookie; every form post carries the session's CSRF token.
  app.get('/login', (c) => {
    if (!auth.enabled)
      throw new NotFoundError('this UI was started without --admin-token, so nothing can be changed from it');
    return c.html(loginPage(localPath(c.req.query('next'))));
  });
  app.post('/login', async (c) => {
    if (!auth.enabled)
      throw new NotFoundError('this UI was started without --admin-token, so nothing can be changed from it');
    const f = await form(c);
    const next = localPath(f.next);
    const s = auth.signIn(f.token ?? '');
    if (!s) return c.html(loginPage(next, 'That is not the admin token.'), 401);
    setCookie(c, SESSION_COOKIE, s.id, { httpOnly: true, sameSite: 'Strict', path: '/' });
    return c.redirect(next, 303);
  });
  app.post('/logout', async (c) => {
    const f = await form(c);
    if (auth.checkCsrf(sessionId(c), f.csrf)) auth.signOut(sessionId(c));
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/', 303);
  });

  /** The session's CSRF token, or a redirect to sign in (null) when there is none. */
  const requireSession = (c: Context): string | null => {
    if (!auth.enabled)
      throw new NotFoundError('this UI was started without --admin-token, so nothing can be changed from it');
    return auth.session(sessionId(c))?.csrf ?? null;
  };
  const signInFirst = (c: Context) =>
    c.redirect(`/login?next=${encodeURIComponent(c.req.path + (new URL(c.req.url).search || ''))}`, 303);

  const confirmation = async (
    model: string,
    alias: string,
    action: Confirmation['action'],
    to: number,
    csrf: string,
  ): Promise<Confirmation> => {
    const from = await deps.registry.getAlias(model, alias);
    const base = { model, alias, action, from, to, csrf };
    if (from === null || from === to)
      return { ...base, h2h: null, h2hNote: from === to ? `${alias} already points at v${to}.` : null };
    try {
      const target = await deps.registry.getModelVersion(model, to);
      const h = await headToHead(
        deps.store,
        target.datasetId,
        await loadPredictor(deps.registry, deps.store, model, from),
        await loadPredictor(deps.registry, deps.store, model, to),
      );
      return {
        ...base,
        h2h: { fromF1: h.championF1, toF1: h.challengerF1, rows: h.rows, excluded: h.excluded },
        h2hNote: null,
      };
    } catch (err) {
      if (!(err instanceof RainopsError)) throw err;
      return { ...base, h2h: null, h2hNote: `No head-to-head F1: ${err.message}` };
    }
  };
  const versionParam = (text: string | undefined): number => {
    const v = Number(text);
    if (!text || !/^\d+$/.test(text) || !Number.isSafeInteger(v) || v < 1)
      throw new UsageError(`expected a version number, not '${text ?? ''}'`);
    return v;
  };
  const aliasParam = (text: string | undefined) => text || CHAMPION_ALIAS;

  app.get('/models/:name/promote', async (c) => {
    const csrf = requireSession(c);
    if (!csrf) return signInFirst(c);
    const model = (await findModel(deps, c.req.param('name'))).name;
    return c.html(
      confirmPage(
        await confirmation(
          model,
          aliasParam(c.req.query('alias')),
          'promote',
          versionParam(c.req.query('version')),
          csrf,
        ),
      ),
    );
  });
  app.get('/models/:name/rollback', async (c) => {
    const csrf = requireSession(c);
    if (!csrf) return signInFirst(c);
    const model = (await findModel(deps, c.req.param('name'))).name;
    const alias = aliasParam(c.req.query('alias'));
    const previous = await deps.registry.previousAliasTarget(model, alias);
    if (previous === null) throw new NotFoundError(`alias ${alias} of ${model} has no earlier target to roll back to`);
    return c.html(confirmPage(await confirmation(model, alias, 'rollback', previous, csrf)));
  });

  /** Checks session and CSRF token, and that the alias is still where the confirmation saw it. */
  const checkedPost = async (c: Context) => {
    const f = await form(c);
    if (!auth.enabled)
      throw new NotFoundError('this UI was started without --admin-token, so nothing can be changed from it');
    if (!auth.checkCsrf(sessionId(c), f.csrf))
      return {
        denied: c.html(
          <ErrorPage status={403} message="This form has expired or did not come from this page; open it again." />,
          403,
        ),
      } as const;
    const model = (await findModel(deps, c.req.param('name') ?? '')).name;
    const alias = aliasParam(f.alias);
    const expected = f.expected ? versionParam(f.expected) : null;
    const now = await deps.registry.getAlias(model, alias);
    if (now !== expected)
      throw new ConflictError(
        `${model}@${alias} moved to ${now === null ? 'unset' : `v${now}`} after the confirmation was shown; open it again`,
      );
    return { f, model, alias } as const;
  };
  app.post('/models/:name/promote', async (c) => {
    const r = await checkedPost(c);
    if ('denied' in r) return r.denied;
    const change = await promoteVersion(deps.registry, {
      model: r.model,
      version: versionParam(r.f.version),
      alias: r.alias,
      reason: r.f.reason || undefined,
      actor,
    });
    const what = change.changed
      ? `${r.alias} moved from ${change.fromVersion === null ? 'unset' : `v${change.fromVersion}`} to v${change.toVersion}`
      : `${r.alias} already pointed at v${change.toVersion}`;
    return c.redirect(`/models/${encodeURIComponent(r.model)}?moved=${encodeURIComponent(what)}`, 303);
  });
  app.post('/models/:name/rollback', async (c) => {
    const r = await checkedPost(c);
    if ('denied' in r) return r.denied;
    const change = await rollbackAlias(deps.registry, {
      model: r.model,
      alias: r.alias,
      reason: r.f.reason || undefined,
      actor,
    });
    const what = `${r.alias} rolled back from v${change.fromVersion} to v${change.toVersion}`;
    return c.redirect(`/models/${encodeURIComponent(r.model)}?moved=${encodeURIComponent(what)}`, 303);
  });

  app.notFound((c) => c.html(<ErrorPage status={404} message={`No page at ${c.req.path}.`} />, 404));
  app.onError((err, c) => {
    const status = statusOf(err);
    if (status === 500) {
      deps.logger.warn(`ui: unexpected error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
      return c.html(<ErrorPage status={500} message="Unexpected error; the server log has the details." />, 500);
    }
    return c.html(<ErrorPage status={status} message={err.message} />, status);
  });
  return Object.assign(app, { close: () => predictor.close() });
}
