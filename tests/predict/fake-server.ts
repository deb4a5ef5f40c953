import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answer } from '../../src/core/bundle/predictor.js';
import { PredictFeaturesSchema } from '../../src/core/dataset/schema.js';

export interface FakeServer {
  url: string;
  requests: Array<{ path: string; rows: number }>;
  close(): Promise<void>;
}

/**
 * A stand-in for `rainops serve` speaking SPEC section 6: rain when Humidity3pm > 50, FastAPI-shaped 422s,
 * and POST /predict/batch as `{"features": [...]}` answered `{model, predictions: [{index, ...} | {index, detail}]}`.
 */
export async function fakeServer(opts: { batch?: boolean; apiKey?: string } = {}): Promise<FakeServer> {
  const model = { name: 'Rain_dataset_model_prod', version: 4 };
  const requests: FakeServer['requests'] = [];
  const score = (row: unknown, loc: Array<string | number>) => {
    const parsed = PredictFeaturesSchema.safeParse(row);
    if (!parsed.success)
      return {
        detail: parsed.error.issues.map((i) => ({
          loc: [...loc, ...i.path.map((p) => (typeof p === 'number' ? p : String(p)))],
          msg: i.message,
          type: i.code,
        })),
      };
    return answer(parsed.data.Humidity3pm / 100, 0.5);
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (opts.apiKey && req.headers.authorization !== `Bearer ${opts.apiKey}`)
        return send(401, { detail: 'Not authenticated' });
      const json = JSON.parse(body || 'null') as { features?: unknown };
      if (req.url === '/predict' && req.method === 'POST') {
        requests.push({ path: '/predict', rows: 1 });
        const r = score(json?.features, ['body', 'features']);
        return 'detail' in r ? send(422, r) : send(200, { ...r, model });
      }
      if (req.url === '/predict/batch' && req.method === 'POST' && opts.batch !== false) {
        const rows = json?.features as unknown[];
        requests.push({ path: '/predict/batch', rows: rows.length });
        return send(200, {
          model,
          count: rows.length,
          predictions: rows.map((row, index) => ({ index, ...score(row, ['body', 'features', index]) })),
        });
      }
      requests.push({ path: `${req.url} (404)`, rows: 0 });
      send(404, { detail: 'Not Found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A loopback port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
