import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { z } from 'zod';
import type { Prediction } from '../bundle/predictor.js';
import { FEATURE_INPUT_COLUMNS } from '../dataset/schema.js';
import type { FeatureInput, PredictFeatures } from '../dataset/schema.js';
import { RainopsError, UsageError } from '../errors.js';
import type { ModelRef, PredictResult, RowRejection, RowScorer } from './scorer.js';

const ModelRefSchema = z.object({ name: z.string(), version: z.number() });
const predictionShape = {
  prediction_bool: z.union([z.literal(0), z.literal(1)]),
  prediction_str: z.string(),
  probability: z.number(),
};
const AnswerSchema = z.object({ ...predictionShape, model: ModelRefSchema });
const IssueSchema = z.object({ loc: z.array(z.union([z.string(), z.number()])), msg: z.string() });
const DetailSchema = z.object({ detail: z.array(IssueSchema) });
const BatchAnswerSchema = z.object({
  model: ModelRefSchema,
  predictions: z.array(z.union([z.object(predictionShape), z.object({ detail: z.array(IssueSchema) })])),
});

/** The most rows one POST /predict/batch may carry (SPEC section 6). */
export const MAX_BATCH_ROWS = 10_000;

export interface RemoteOptions {
  /** Sent as `Authorization: Bearer` when the server was started with --api-key. */
  apiKey?: string | undefined;
  /** Longest wait for a connection (default 10 s). */
  connectTimeoutMs?: number | undefined;
  /** Longest wait for the next bytes of an answer, sending included (default 60 s). */
  readTimeoutMs?: number | undefined;
  /** Largest answer read; past it the request fails (default 64 MiB). */
  maxResponseBytes?: number | undefined;
  /** Requests in flight when a server without /predict/batch is asked one row at a time. */
  concurrency?: number;
  /** Opens a connection (tests hand out one that never connects). */
  createConnection?: RequestOptions['createConnection'];
}

export const REMOTE_DEFAULTS = {
  connectTimeoutMs: 10_000,
  readTimeoutMs: 60_000,
  maxResponseBytes: 64 * 1024 * 1024,
} as const;

/** Why a request got no answer, as the end of a sentence. */
class NoAnswer extends Error {}

/**
 * POSTs JSON and reads the whole answer, within the limits: the connection must open within
 * `connectTimeoutMs`, bytes must keep coming (no gap over `readTimeoutMs`), and the answer must stay under
 * `maxResponseBytes` (a server that never ends its answer would otherwise fill memory).
 */
function postJson(
  url: URL,
  body: string,
  headers: Record<string, string>,
  limits: {
    connectTimeoutMs: number;
    readTimeoutMs: number;
    maxResponseBytes: number;
    agent: HttpAgent;
    createConnection?: RequestOptions['createConnection'];
  },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const options: RequestOptions = {
      method: 'POST',
      headers: { ...headers, 'content-length': Buffer.byteLength(body) },
    };
    if (limits.createConnection) options.createConnection = limits.createConnection;
    else if (url.protocol !== 'https:') options.agent = limits.agent;
    const req = send(url, options);
    let done = false;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      clearTimeout(connecting);
      req.destroy();
      reject(err);
    };
    const connecting = setTimeout(
      () => fail(new NoAnswer(`could not connect within ${seconds(limits.connectTimeoutMs)} (--connect-timeout)`)),
      limits.connectTimeoutMs,
    );
    req.on('socket', (socket: Socket) => {
      if (socket.connecting) socket.once('connect', () => clearTimeout(connecting));
      else clearTimeout(connecting);
    });
    req.setTimeout(limits.readTimeoutMs, () =>
      fail(new NoAnswer(`no answer for ${seconds(limits.readTimeoutMs)} (--read-timeout)`)),
    );
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxResponseBytes)
          fail(new NoAnswer(`the answer is larger than ${limits.maxResponseBytes} bytes (--max-response)`));
        else chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('aborted', () => fail(new NoAnswer('the server closed the connection in the middle of its answer')));
      res.on('end', () => {
        if (done) return;
        done = true;
        clearTimeout(connecting);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(body);
  });
}

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))} s`;

interface Reply {
  status: number;
  text: string;
}

interface JsonReply {
  status: number;
  body: unknown;
}

/** FastAPI-shaped issues as one line, `✖ msg → at field`, without the body/features/index prefix of the location. */
export function describeDetail(issues: ReadonlyArray<z.infer<typeof IssueSchema>>): string {
  const [first, ...rest] = issues;
  // A batch details its first invalid rows only; the later ones come without a reason.
  if (!first) return 'rejected by the server (it gives reasons for the first invalid rows of a batch only)';
  let loc = first.loc;
  while (loc.length > 0 && (loc[0] === 'body' || loc[0] === 'features' || typeof loc[0] === 'number'))
    loc = loc.slice(1);
  return `✖ ${first.msg}${loc.length ? ` → at ${loc.join('.')}` : ''}${rest.length > 0 ? ` (and ${rest.length} more problem${rest.length === 1 ? '' : 's'})` : ''}`;
}

/** The API wants every field; a batch row with a missing value can only be scored locally, where it is imputed. */
function toApiFeatures(row: FeatureInput): { features: Record<string, unknown> } | RowRejection {
  for (const c of FEATURE_INPUT_COLUMNS) {
    if (row[c] === null)
      return { reason: `${c}: missing; the server needs every field (drop --url to score locally, which imputes it)` };
  }
  return { features: { ...row, RainToday: row.RainToday === 'Yes' ? 1 : 0 } };
}

const strip = (a: z.infer<typeof AnswerSchema> | Prediction): Prediction => ({
  prediction_bool: a.prediction_bool,
  prediction_str: a.prediction_str,
  probability: a.probability,
});

/**
 * Scores through a running `rainops serve` (SPEC section 6): POST /predict for one row, POST /predict/batch
 * for many; a server without the batch route (404/405, like the Python original) is asked row by row.
 */
export function remoteScorer(baseUrl: string, opts: RemoteOptions = {}): RowScorer {
  const base = baseUrl.replace(/\/+$/, '');
  const limits = {
    connectTimeoutMs: opts.connectTimeoutMs ?? REMOTE_DEFAULTS.connectTimeoutMs,
    readTimeoutMs: opts.readTimeoutMs ?? REMOTE_DEFAULTS.readTimeoutMs,
    maxResponseBytes: opts.maxResponseBytes ?? REMOTE_DEFAULTS.maxResponseBytes,
    createConnection: opts.createConnection,
  };
  const concurrency = opts.concurrency ?? 16;
  // Keep-alive: row-by-row scoring reuses a few connections instead of opening one per row.
  const agent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
  let hasBatch = true;

  async function post(path: string, body: unknown): Promise<JsonReply> {
    let reply: Reply;
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
    };
    try {
      reply = await postJson(new URL(`${base}${path}`), JSON.stringify(body), headers, { ...limits, agent });
    } catch (err) {
      if (err instanceof NoAnswer)
        throw new RainopsError(
          `predict: ${base}${path}: ${err.message}; check that rainops serve runs there and is not overloaded`,
          { cause: err },
        );
      const code = (err as { code?: string }).code ?? (err as Error).name;
      throw new RainopsError(
        `predict: cannot reach rainops serve at ${base} (${code}); start it with 'rainops serve' or check --url`,
        { cause: err },
      );
    }
    let parsed: unknown = reply.text;
    try {
      parsed = reply.text === '' ? null : JSON.parse(reply.text);
    } catch {
      // Not JSON (a proxy's HTML error page, say): the text goes into the message as it is.
    }
    if (reply.status === 401)
      throw new RainopsError(
        `predict: ${base} wants an API key; pass --api-key or set RAINOPS_API_KEY to the key the server was started with`,
      );
    return { status: reply.status, body: parsed };
  }

  const unexpected = (path: string, reply: JsonReply) => {
    const detail = (reply.body as { detail?: unknown } | null)?.detail;
    const text =
      typeof detail === 'string'
        ? detail
        : (typeof reply.body === 'string' ? reply.body : (JSON.stringify(reply.body) ?? '')).slice(0, 200);
    return new RainopsError(
      `predict: ${base}${path} answered HTTP ${reply.status}${text ? ` (${text})` : ''}; check that --url points at 'rainops serve' and that it is ready`,
    );
  };

  async function predictOne(features: unknown): Promise<z.infer<typeof AnswerSchema> | RowRejection> {
    const reply = await post('/predict', { features });
    if (reply.status === 422) {
      const detail = DetailSchema.safeParse(reply.body);
      return { reason: detail.success ? describeDetail(detail.data.detail) : 'rejected by the server' };
    }
    const parsed = AnswerSchema.safeParse(reply.body);
    if (reply.status !== 200 || !parsed.success) throw unexpected('/predict', reply);
    return parsed.data;
  }

  async function oneByOne(
    features: unknown[],
  ): Promise<{ model: ModelRef | null; answers: Array<Prediction | RowRejection> }> {
    const answers: Array<Prediction | RowRejection> = new Array(features.length);
    let model: ModelRef | null = null;
    let next = 0;
    const worker = async () => {
      while (next < features.length) {
        const i = next++;
        const a = await predictOne(features[i]);
        if ('reason' in a) answers[i] = a;
        else {
          answers[i] = strip(a);
          model ??= a.model;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, features.length) }, worker));
    return { model, answers };
  }

  /** Answers in order, or null when the server has no batch route. */
  async function inBatches(
    features: unknown[],
  ): Promise<{ model: ModelRef; answers: Array<Prediction | RowRejection> } | null> {
    let model: ModelRef | null = null;
    const answers: Array<Prediction | RowRejection> = [];
    for (let start = 0; start < features.length; start += MAX_BATCH_ROWS) {
      const part = features.slice(start, start + MAX_BATCH_ROWS);
      const reply = await post('/predict/batch', { features: part });
      if (reply.status === 404 || reply.status === 405) return null;
      const parsed = BatchAnswerSchema.safeParse(reply.body);
      if (reply.status !== 200 || !parsed.success || parsed.data.predictions.length !== part.length)
        throw unexpected('/predict/batch', reply);
      model ??= parsed.data.model;
      for (const p of parsed.data.predictions)
        answers.push('detail' in p ? { reason: describeDetail(p.detail) } : strip(p));
    }
    return model ? { model, answers } : null;
  }

  return {
    describe: base,
    async predict(features: PredictFeatures): Promise<PredictResult> {
      const a = await predictOne(features);
      if ('reason' in a) throw new UsageError(`predict: invalid features (the server says): ${a.reason}`);
      return { ...strip(a), model: a.model };
    },
    async scoreRows(rows) {
      const answers: Array<Prediction | RowRejection> = new Array(rows.length);
      const sent: number[] = [];
      const features: Record<string, unknown>[] = [];
      rows.forEach((row, i) => {
        const f = toApiFeatures(row);
        if ('reason' in f) answers[i] = f;
        else {
          sent.push(i);
          features.push(f.features);
        }
      });
      if (features.length === 0) return { model: null, answers };
      const batch = hasBatch ? await inBatches(features) : null;
      if (batch === null) hasBatch = false;
      const scored = batch ?? (await oneByOne(features));
      scored.answers.forEach((a, k) => {
        answers[sent[k]!] = a;
      });
      return { model: scored.model, answers };
    },
  };
}
