import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/core/server/app.js';
import { createMetrics } from '../../src/core/server/metrics.js';
import { startServer } from '../../src/core/server/server.js';
import type { RunningServer, ServeOptions } from '../../src/core/server/server.js';
import { EXAMPLE, memoryLogger, MODEL, modelHome, post } from './helpers.js';
import type { ModelHome } from './helpers.js';

type Json = Record<string, any>;

let home: ModelHome;
const servers: RunningServer[] = [];

beforeAll(async () => {
  home = await modelHome(1);
}, 120_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  home?.close();
});

async function start(opts: Partial<ServeOptions> = {}) {
  const logger = memoryLogger();
  let log = '';
  const s = await startServer(
    { host: '127.0.0.1', port: 0, model: MODEL, alias: 'prod_best', pollSec: 0, requestTimeoutSec: 10, ...opts },
    {
      registry: home.registry,
      store: home.store,
      logger,
      accessLog: (t, done) => {
        log += t;
        done();
      },
    },
  );
  servers.push(s);
  return { s, logger, log: () => log };
}

/** Sends raw bytes and resolves with everything the server sent back before closing (or the timeout). */
function raw(
  port: number,
  chunks: Array<string | Buffer>,
  opts: { gapMs?: number; waitMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(got);
    }, opts.waitMs ?? 3000);
    socket.on('data', (d) => (got += d.toString('utf8')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.on('error', reject);
    socket.on('connect', async () => {
      for (const c of chunks) {
        if (socket.destroyed) return;
        socket.write(c);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
    });
  });
}

const head = (path: string, length: number, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${extra}\r\n`;

describe('the Node server (lean path for POST /predict, Hono for the rest)', () => {
  it('listens on 127.0.0.1 on a free port and answers like the app does', async () => {
    const { s, log } = await start();
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.port).toBeGreaterThan(0);
    const app = createApp({ holder: s.holder, metrics: createMetrics(), logger: memoryLogger() });
    const bodies: unknown[] = [
      EXAMPLE,
      { features: { ...EXAMPLE.features, MinTemp: 99, Location: 'Adelade' } },
      { features: { ...EXAMPLE.features, Date: '2024-13-01' } },
      '{"features": ',
      '',
      [1, 2],
    ];
    for (const body of bodies) {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      const viaNode = await post(`${s.url}/predict`, text);
      const viaApp = await app.request('/predict', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: text,
      });
      expect(viaNode.status, text.slice(0, 60)).toBe(viaApp.status);
      expect(await viaNode.json()).toEqual(await viaApp.json());
      expect(viaNode.headers.get('content-type')).toMatch(/^application\/json/);
    }
    const r = await post(`${s.url}/predict/`, EXAMPLE);
    expect(((await r.json()) as Json).model).toEqual({ name: MODEL, version: 1 });
    // Other routes go through Hono.
    expect(await (await fetch(`${s.url}/health`)).json()).toEqual({ status: 'ok' });
    expect((await post(`${s.url}/predict/batch`, [EXAMPLE.features])).status).toBe(200);
    await new Promise((r) => setImmediate(r));
    const lines = log()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json);
    expect(lines.filter((l) => l.path === '/predict')).toHaveLength(bodies.length);
    expect(lines.at(-1)).toMatchObject({ method: 'POST', path: '/predict/batch', status: 200 });
  });

  it('writes the access log one batch at a time: a slow stderr delays lines, never requests', async () => {
    const writes: string[] = [];
    let release: () => void = () => {};
    const s = await startServer(
      { host: '127.0.0.1', port: 0, model: MODEL, alias: 'prod_best', pollSec: 0, requestTimeoutSec: 10 },
      {
        registry: home.registry,
        store: home.store,
        logger: memoryLogger(),
        // A sink that holds its first write until released, like a pipe nobody reads.
        accessLog: (text, done) => {
          writes.push(text);
          if (writes.length === 1) release = () => done();
          else done();
        },
      },
    );
    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 30 }, () => post(`${s.url}/predict`, EXAMPLE)));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(writes).toHaveLength(1);
    const closed = s.close();
    await release();
    await closed;
    const lines = writes.join('').trim().split('\n');
    expect(lines).toHaveLength(30);
    expect(writes.length).toBeLessThan(30);
  });

  it('refuses a body past 1 MiB with 413, by Content-Length or while reading a chunked one', async () => {
    const { s } = await start();
    const big = JSON.stringify({ ...EXAMPLE, pad: 'x'.repeat(1024 * 1024) });
    const byLength = await post(`${s.url}/predict`, big);
    expect(byLength.status).toBe(413);
    expect(((await byLength.json()) as Json).detail).toMatch(/1048576/);
    const chunked = await raw(s.port, [
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      ...Array.from({ length: 20 }, () => `10000\r\n${'x'.repeat(0x10000)}\r\n`),
      '0\r\n\r\n',
    ]);
    expect(chunked).toMatch(/^HTTP\/1\.1 413 /);
    expect(chunked).toMatch(/connection: close/i);
    // A chunked body under the limit is read and scored.
    const json = JSON.stringify(EXAMPLE);
    const small = await raw(s.port, [
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      `${Buffer.byteLength(json).toString(16)}\r\n${json}\r\n0\r\n\r\n`,
    ]);
    expect(small).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('answers 415, 400, 401 and 503 on the lean path', async () => {
    const { s } = await start({ apiKey: 'key' });
    const auth = { Authorization: 'Bearer key' };
    expect((await post(`${s.url}/predict`, EXAMPLE)).status).toBe(401);
    expect((await post(`${s.url}/predict`, EXAMPLE, auth)).status).toBe(200);
    expect((await post(`${s.url}/predict`, EXAMPLE, { ...auth, 'Content-Type': 'text/csv' })).status).toBe(415);
    expect((await post(`${s.url}/predict`, '{oops', auth)).status).toBe(400);
    // Malformed HTTP is a 400 from Node itself, never a crash.
    expect(await raw(s.port, ['GARBAGE / HTTP/9\r\n\r\n'])).toMatch(/^HTTP\/1\.1 400 /);
    expect(await (await fetch(`${s.url}/health`)).json()).toEqual({ status: 'ok' });
  });

  it('never answers 5xx to a malformed body (random bodies on the lean path and through Hono)', async () => {
    const { s, logger } = await start();
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
    const value = (depth: number): unknown => {
      const r = rand();
      if (depth > 3 || r < 0.3)
        return pick<unknown>([
          null,
          true,
          0,
          -1,
          1e308,
          -1e-308,
          3.5,
          '',
          'Yes',
          'No',
          'Adelaide',
          '2024-02-29',
          'ESE',
          '\u0000',
          'x'.repeat(300),
        ]);
      if (r < 0.5) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
      const keys = Object.keys(EXAMPLE.features).concat(['features', '__proto__', 'constructor', '']);
      return Object.fromEntries(Array.from({ length: Math.floor(rand() * 6) }, () => [pick(keys), value(depth + 1)]));
    };
    const texts: string[] = [];
    for (let i = 0; i < 150; i++) {
      const f: Record<string, unknown> = { ...EXAMPLE.features };
      for (let k = 0; k < 3; k++) f[pick(Object.keys(f))] = value(2);
      texts.push(JSON.stringify(rand() < 0.7 ? { features: f } : value(0)));
    }
    texts.push(
      '{"features": {"MinTemp": 1e999999}}',
      '[[[[[[[[[[',
      '{"a":"\\ud800"}',
      '\u00ff\u00fe',
      '{"features": NaN}',
      'true',
      '"str"',
      '{}'.repeat(1000),
    );
    for (const text of texts) {
      for (const path of ['/predict', '/predict/batch']) {
        const res = await post(
          `${s.url}${path}`,
          path === '/predict/batch' && text.startsWith('{"features": {') ? `[${text}]` : text,
        );
        expect([200, 400, 422], `${path} ${text.slice(0, 80)}`).toContain(res.status);
        await res.arrayBuffer();
      }
    }
    expect(logger.lines.filter((l) => l.includes('unexpected error'))).toEqual([]);
  });

  it('answers protocol faults with 400, never 5xx: no Host (HTTP/1.0), a bad Host, OPTIONS *', async () => {
    const { s, log } = await start();
    const status = (reply: string) => Number(reply.slice(9, 12));
    // An HTTP/1.0 health checker sends no Host: served under a default one.
    const health = await raw(s.port, ['GET /health HTTP/1.0\r\n\r\n']);
    expect(health).toMatch(/^HTTP\/1\.1 200 /);
    expect(health).toContain('{"status":"ok"}');
    expect(status(await raw(s.port, ['GET /ready HTTP/1.0\r\n\r\n']))).toBe(200);
    expect(status(await raw(s.port, ['GET /nowhere HTTP/1.0\r\n\r\n']))).toBe(404);
    const body = JSON.stringify(EXAMPLE);
    // Routes the lean path declines (a query string) go through Hono, which must not need a Host either.
    const declined = await raw(s.port, [
      `POST /predict?x=1 HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    ]);
    expect(declined).toMatch(/^HTTP\/1\.1 200 /);
    for (const request of [
      'GET /health HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n',
      'GET /health HTTP/1.1\r\nHost: [::1\r\nConnection: close\r\n\r\n',
      'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'OPTIONS * HTTP/1.0\r\n\r\n',
      `POST /predict/batch?x HTTP/1.1\r\nHost: a b\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    ]) {
      const reply = await raw(s.port, [request]);
      expect(status(reply), request).toBe(400);
      expect(reply).toMatch(/"detail":"Bad Request: /);
    }
    await new Promise((r) => setImmediate(r));
    // Counted and logged like any request.
    const lines = log()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json);
    expect(lines.filter((l) => l.status === 400).map((l) => `${l.method} ${l.path}`)).toEqual([
      'GET /health',
      'GET /health',
      'OPTIONS *',
      'OPTIONS *',
      'POST /predict/batch?x',
    ]);
    expect(await (await fetch(`${s.url}/metrics`)).text()).toMatch(
      /^rainops_http_requests_total\{method="OPTIONS",route="unmatched",status="400"\} 2$/m,
    );
  });

  it('drops the connection of a client that goes on sending far past the limit, and stays up', async () => {
    const { s } = await start({ bodyLimit: 1000 });
    const socket = net.connect(s.port, '127.0.0.1');
    const closed = new Promise<string>((resolve) => {
      let got = '';
      socket.on('data', (d) => (got += d.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(got));
    });
    socket.write(head('/predict', 100 * 1024 * 1024));
    const chunk = Buffer.alloc(1024 * 1024, 32);
    // Sends until the server gives up on it (16 MiB past the limit); never the whole 100 MiB.
    let sent = 0;
    while (!socket.destroyed && sent < 100 * 1024 * 1024) {
      sent += chunk.length;
      if (!socket.write(chunk)) await new Promise((r) => (socket.once('drain', r), socket.once('close', r)));
    }
    expect(await closed).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent).toBeLessThan(100 * 1024 * 1024);
    expect((await post(`${s.url}/predict`, EXAMPLE)).status).toBe(200);
  });

  it('answers 408 to a client that does not send its whole request in time', async () => {
    const { s } = await start({ requestTimeoutSec: 0.5 });
    const t0 = Date.now();
    const reply = await raw(s.port, [head('/predict', 500), '{"features": {'], { waitMs: 4000 });
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('shuts down gracefully: stops accepting, finishes the request in flight, closes idle connections', async () => {
    const { s } = await start();
    const body = JSON.stringify(EXAMPLE);
    // An idle keep-alive connection: answered once, then left open by its client.
    const idle = net.connect(s.port, '127.0.0.1');
    const idleClosed = new Promise<number>((r) => idle.on('close', () => r(Date.now())));
    await new Promise<void>((r) => idle.once('data', () => r()).write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    // A request whose body arrives in two parts, the second after close() began.
    const inFlight = raw(s.port, [head('/predict', Buffer.byteLength(body)), body.slice(0, 50), body.slice(50)], {
      gapMs: 400,
      waitMs: 5000,
    });
    await new Promise((r) => setTimeout(r, 200));
    const closeStarted = Date.now();
    const closing = s.close();
    await new Promise((r) => setTimeout(r, 50));
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();
    const reply = await inFlight;
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply).toMatch(/connection: close/i);
    expect(reply).toContain('"model":{"name":"Rain_dataset_model_prod","version":1}');
    await closing;
    // Idle connections went at once, not after the 5 s keep-alive timeout.
    expect((await idleClosed) - closeStarted).toBeLessThan(1000);
  });
});
