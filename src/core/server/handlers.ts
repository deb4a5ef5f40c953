import { createHash, timingSafeEqual } from 'node:crypto';
import { answer, ANSWER_DRY, ANSWER_RAIN } from '../bundle/predictor.js';
import type { Logger } from '../context.js';
import { featuresToInput, PredictFeaturesSchema } from '../dataset/schema.js';
import type { FeatureInput } from '../dataset/schema.js';
import { HttpError, issuesToDetail, validationError } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import { RequestText } from './prediction-log.js';
import type { PredictionLog } from './prediction-log.js';
import type { LoadedModel, ModelHolder } from './model-holder.js';
import { cutBatchJson } from './batch-json.js';
import { MAX_BATCH_ROWS, MAX_DETAILED_ROWS, PredictRequestSchema } from './schemas.js';
import { timeSlicer } from './turns.js';
import type { TimeSlicer } from './turns.js';

export const MIB = 1024 * 1024;

export interface AppOptions {
  /** Bearer token the prediction routes require (none: open). */
  apiKey?: string | undefined;
  /** Bearer token of POST /admin/reload (none: the route does not exist). */
  adminToken?: string | undefined;
  /** Largest body of POST /predict (413 past it). */
  bodyLimit?: number | undefined;
  /** Largest body of POST /predict/batch: 10,000 rows need about 5 MB. */
  batchBodyLimit?: number | undefined;
  /** Shown in /openapi.json. */
  version?: string | undefined;
}

export interface AppDeps {
  holder: Pick<ModelHolder, 'current' | 'refresh' | 'model' | 'alias'> & Partial<Pick<ModelHolder, 'problem'>>;
  metrics: ServerMetrics;
  logger: Logger;
  /** Receives one JSON line per request (newline included). */
  accessLog?: ((line: string) => void) | undefined;
  options?: AppOptions | undefined;
  /** The figures of every process of a cluster; defaults to this process's own. */
  collectMetrics?: (() => Promise<string>) | undefined;
  /** True once shutdown began: responses then ask clients to close their connection. */
  isClosing?: (() => boolean) | undefined;
  /** Keeps every prediction (serve --log-predictions). */
  predictionLog?: PredictionLog | undefined;
}

/** Every route, with the label its metrics carry (unknown paths share one label). */
export const ROUTE_LABELS = new Map<string, string>([
  ['/', '/'],
  ['/health', '/health'],
  ['/ready', '/ready'],
  ['/model', '/model'],
  ['/metrics', '/metrics'],
  ['/openapi.json', '/openapi.json'],
  ['/docs', '/docs'],
  ['/docs/', '/docs'],
  ['/predict', '/predict'],
  ['/predict/', '/predict'],
  ['/predict/batch', '/predict/batch'],
  ['/admin/reload', '/admin/reload'],
]);
const QUOTED_ROUTES = new Map([...ROUTE_LABELS.keys()].map((path) => [path, JSON.stringify(path)]));
const routeLabel = (path: string) =>
  ROUTE_LABELS.get(path) ?? (path.startsWith('/docs/assets/') ? '/docs/assets' : 'unmatched');

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;
const digest = (s: string) => createHash('sha256').update(s).digest();

/** A bearer check in constant time (both sides hashed to the same length first); null when it passes. */
export function bearerCheck(token: string, realm: string): (header: string | undefined) => HttpError | null {
  const want = digest(token);
  const challenge = { 'WWW-Authenticate': `Bearer realm="${realm}"` };
  return (header) => {
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return new HttpError(401, { detail: 'Not authenticated: send Authorization: Bearer <token>' }, challenge);
    return timingSafeEqual(digest(m[1]!), want) ? null : new HttpError(401, { detail: 'Invalid token' }, challenge);
  };
}

const RAIN_JSON = JSON.stringify(ANSWER_RAIN);
const DRY_JSON = JSON.stringify(ANSWER_DRY);

/** Rows scored per call between two turns of batch work. */
const SCORE_SLICE_ROWS = 1024;
/** Bodies past this size are parsed a slice at a time; a smaller one parses whole in a few milliseconds. */
const SLICED_PARSE_BYTES = MIB;

/** The rows of a batch body ({"features": [...]} or a bare list) and the `loc` prefix of their errors; 422 for another shape. */
function batchRows(body: unknown): { rows: unknown[]; prefix: Array<string | number> } {
  let rows: unknown[];
  let prefix: Array<string | number>;
  if (Array.isArray(body)) {
    rows = body;
    prefix = ['body'];
  } else if (body !== null && typeof body === 'object') {
    const features = (body as Record<string, unknown>).features;
    if (features === undefined)
      throw validationError([{ loc: ['body', 'features'], msg: 'Field required', type: 'missing' }]);
    if (!Array.isArray(features))
      throw validationError([{ loc: ['body', 'features'], msg: 'Input should be a valid list', type: 'list_type' }]);
    rows = features;
    prefix = ['body', 'features'];
  } else {
    throw validationError([
      {
        loc: ['body'],
        msg: 'Input should be {"features": [...]} or a list of feature objects',
        type: 'model_attributes_type',
      },
    ]);
  }
  if (rows.length > MAX_BATCH_ROWS) {
    throw validationError([
      {
        loc: prefix,
        msg: `List should have at most ${MAX_BATCH_ROWS} items, not ${rows.length}`,
        type: 'too_long',
        ctx: { max_length: MAX_BATCH_ROWS },
      },
    ]);
  }
  return { rows, prefix };
}

/**
 * Past the size limit, a body is still read and dropped up to this many more bytes before the connection
 * closes, so that a client still sending gets to read its 413 instead of a reset.
 */
export const DISCARD_LIMIT = 16 * MIB;

export const tooLarge = (limit: number) =>
  new HttpError(413, { detail: `Request body too large: at most ${limit} bytes` });

/** 400 for bad JSON (naming the position, like FastAPI), 422 for an empty body. */
function parseJson(text: string): unknown {
  if (text.trim() === '') throw validationError([{ loc: ['body'], msg: 'Field required', type: 'missing' }]);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // V8 names the offset ("... in JSON at position 8"); FastAPI puts it in loc.
    const message = err instanceof Error ? err.message : String(err);
    const pos = /position (\d+)/.exec(message);
    throw new HttpError(400, {
      detail: [
        { loc: pos ? ['body', Number(pos[1])] : ['body'], msg: `JSON decode error: ${message}`, type: 'json_invalid' },
      ],
    });
  }
}

/**
 * One batch's rows, checked one at a time in order (invalid ones answered at once), then scored together.
 * `metrics` counts the predictions once they are made.
 */
function batchOf(prefix: ReadonlyArray<string | number>, metrics: ServerMetrics, log?: PredictionLog) {
  const inputs: FeatureInput[] = [];
  const at: number[] = [];
  const predictions: unknown[] = [];
  let next = 0;
  let invalid = 0;
  return {
    /** Rows checked so far. (A method: a getter here made every call to `check` a third slower.) */
    checked(): number {
      return next;
    },
    check(row: unknown): void {
      const i = next++;
      const r = PredictFeaturesSchema.safeParse(row);
      if (r.success) {
        inputs.push(featuresToInput(r.data));
        at.push(i);
      } else {
        // Past the first MAX_DETAILED_ROWS, an invalid row costs its index only: the body stays small.
        predictions[i] = {
          index: i,
          detail: ++invalid <= MAX_DETAILED_ROWS ? issuesToDetail(r.error.issues, [...prefix, i], row) : [],
        };
      }
    },
    async answer(loaded: LoadedModel, slice: TimeSlicer): Promise<object> {
      const probabilities = new Float64Array(inputs.length);
      for (let k = 0; k < inputs.length; k += SCORE_SLICE_ROWS) {
        if (slice.due()) await slice.pause();
        probabilities.set(loaded.predictor.probabilities(inputs.slice(k, k + SCORE_SLICE_ROWS)), k);
      }
      let rain = 0;
      const threshold = loaded.predictor.threshold;
      at.forEach((i, k) => {
        const p = answer(probabilities[k]!, threshold);
        rain += p.prediction_bool;
        predictions[i] = { index: i, ...p };
        log?.record(inputs[k]!, p.probability, p.prediction_bool, loaded.ref.version);
      });
      metrics.predicted(rain, inputs.length - rain);
      return {
        model: loaded.ref,
        count: next,
        valid: inputs.length,
        invalid,
        details_omitted: Math.max(0, invalid - MAX_DETAILED_ROWS),
        predictions,
      };
    },
  };
}

/**
 * What the prediction routes do, apart from any HTTP framework: Hono's routes and the lean Node path for
 * POST /predict both call these, so they cannot drift apart.
 */
export interface PredictCore {
  readonly bodyLimit: number;
  readonly batchBodyLimit: number;
  /** Throws 401 unless the API key (if any) was sent. */
  authorize(authorization: string | undefined): void;
  /** The model to answer with, taken once per request; 503 before the first load. */
  requireModel(): LoadedModel;
  /** 415 for a body that is not JSON (no Content-Type at all is read as JSON, like FastAPI does); 413 past the limit. */
  checkHeaders(contentType: string | undefined, contentLength: string | undefined, limit: number): void;
  /** 400 for bad JSON, 422 for an empty body. */
  parseJson(text: string): unknown;
  /** The response body of POST /predict, as JSON text; `requestId` (the client's X-Request-Id) goes to the prediction log. */
  predictOne(loaded: LoadedModel, body: unknown, requestId?: string, text?: string): string;
  /** The response body of POST /predict/batch; yields to the event loop every few milliseconds of work. */
  predictBatch(loaded: LoadedModel, body: unknown): Promise<object>;
  /** predictBatch on the body's text: a large body is parsed a run of rows at a time (same answers, same errors). */
  predictBatchText(loaded: LoadedModel, text: string): Promise<object>;
  /** Metrics and the access-log line of one finished request. */
  record(method: string, path: string, status: number, ms: number): void;
}

export function createPredictCore(deps: AppDeps): PredictCore {
  const { holder, metrics } = deps;
  const o = deps.options ?? {};
  const checkApiKey = o.apiKey ? bearerCheck(o.apiKey, 'rainops') : null;
  const accessLog = deps.accessLog;
  const log = deps.predictionLog;
  // Under load many requests end within the same millisecond: format its timestamp once.
  let stampMs = 0;
  let stamp = '';
  const isoNow = () => {
    const ms = Date.now();
    if (ms !== stampMs) {
      stampMs = ms;
      stamp = new Date(ms).toISOString();
    }
    return stamp;
  };

  const core: PredictCore = {
    bodyLimit: o.bodyLimit ?? MIB,
    batchBodyLimit: o.batchBodyLimit ?? 8 * MIB,
    authorize(authorization) {
      const denied = checkApiKey?.(authorization);
      if (denied) throw denied;
    },
    requireModel() {
      const loaded = holder.current();
      if (!loaded) throw new HttpError(503, { detail: 'no model loaded yet; try again shortly' });
      return loaded;
    },
    checkHeaders(contentType, contentLength, limit) {
      if (contentType !== undefined && !JSON_TYPE.test(contentType)) {
        throw new HttpError(415, {
          detail: `Unsupported Media Type: send the body as application/json, not ${contentType.slice(0, 100)}`,
        });
      }
      // Node's parser holds the body to its Content-Length, so the header can be trusted.
      if (contentLength !== undefined && Number(contentLength) > limit) throw tooLarge(limit);
    },
    parseJson,
    predictOne(loaded, body, requestId, text) {
      const parsed = PredictRequestSchema.safeParse(body);
      if (!parsed.success) throw validationError(issuesToDetail(parsed.error.issues, ['body'], body));
      const p = loaded.predictor.predict(featuresToInput(parsed.data.features));
      metrics.predicted(p.prediction_bool, 1 - p.prediction_bool);
      // The body's text when the caller has it: logged as it came, with no serialising on this path.
      log?.record(
        text === undefined ? parsed.data.features : new RequestText(text),
        p.probability,
        p.prediction_bool,
        loaded.ref.version,
        requestId,
      );
      // Written by hand (the texts escaped once): JSON.stringify of this object is the priciest step of a prediction.
      return `{"prediction_bool":${p.prediction_bool},"prediction_str":${p.prediction_bool ? RAIN_JSON : DRY_JSON},"probability":${Number.isFinite(p.probability) ? p.probability : null},"model":${loaded.refJson}}`;
    },

    async predictBatch(loaded, body) {
      const { rows, prefix } = batchRows(body);
      const batch = batchOf(prefix, metrics, log);
      const slice = timeSlicer();
      for (let i = 0; i < rows.length; i++) {
        if ((i & 15) === 0 && slice.due()) await slice.pause();
        batch.check(rows[i]);
      }
      return batch.answer(loaded, slice);
    },
    async predictBatchText(loaded, text) {
      const slice = timeSlicer();
      const large = text.length > SLICED_PARSE_BYTES;
      // Large batches that arrive together start one per turn, not all in the turn their bodies ended in.
      if (large) await slice.pause();
      const cut = large ? cutBatchJson(text) : null;
      // Parsed whole: a small body, another shape, or (below) a run that does not parse or too many rows,
      // where the whole parse gives the exact answer (the 400's position, the 422's count).
      const whole = () => core.predictBatch(loaded, parseJson(text));
      if (!cut) return whole();
      const batch = batchOf(cut.wrapped ? ['body', 'features'] : ['body'], metrics, log);
      // Each run's rows are checked as soon as they are parsed: they go before the next run is, and stay young.
      for (const run of cut.runs) {
        if (slice.due()) await slice.pause();
        const rows = run();
        if (rows === null || batch.checked() + rows.length > MAX_BATCH_ROWS) return whole();
        for (let i = 0; i < rows.length; i++) {
          if ((i & 15) === 0 && slice.due()) await slice.pause();
          batch.check(rows[i]);
        }
      }
      return batch.answer(loaded, slice);
    },
    record(method, path, status, ms) {
      metrics.request(method, routeLabel(path), status, ms / 1000);
      if (accessLog) {
        // Written by hand: the same JSON as JSON.stringify gives, at a fraction of its cost on every request.
        const p = QUOTED_ROUTES.get(path) ?? JSON.stringify(path.slice(0, 200));
        const m = method === 'POST' ? '"POST"' : method === 'GET' ? '"GET"' : JSON.stringify(method);
        accessLog(
          `{"time":"${isoNow()}","method":${m},"path":${p},"status":${status},"ms":${Math.round(ms * 1000) / 1000}}\n`,
        );
      }
    },
  };
  return core;
}
