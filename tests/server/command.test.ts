import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../helpers/cli.js';
import { EXAMPLE, MODEL, modelHome, post, spawnServe, waitFor } from './helpers.js';
import type { ModelHome, ServeProcess } from './helpers.js';

type Json = Record<string, any>;

let home: ModelHome;
const running: ServeProcess[] = [];

beforeAll(async () => {
  home = await modelHome(1);
}, 120_000);
afterAll(() => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  home?.close();
});

function serve(args: string[], env: Record<string, string> = {}, dir = home.dir) {
  const p = spawnServe(args, dir, env);
  running.push(p);
  return p;
}

describe('rainops serve (a real process)', () => {
  it('serves on a free port, says where, and stops cleanly on SIGTERM', async () => {
    const p = serve(['--port', '0', '--json']);
    const url = await p.listening;
    expect(p.stderr()).toMatch(
      new RegExp(`^listening on http://127\\.0\\.0\\.1:\\d+ \\(${MODEL} v1 via prod_best\\)$`, 'm'),
    );
    const res = await post(`${url}/predict`, EXAMPLE);
    expect(res.status).toBe(200);
    expect(((await res.json()) as Json).model).toEqual({ name: MODEL, version: 1 });
    expect(JSON.parse(await waitFor(() => p.stdout().trim()))).toMatchObject({
      url,
      model: MODEL,
      version: 1,
      alias: 'prod_best',
    });
    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.stderr()).toContain('serve: SIGTERM: finishing requests in flight, then stopping');
    // The access log: one JSON line per request.
    const access = p
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Json);
    expect(access).toEqual([expect.objectContaining({ method: 'POST', path: '/predict', status: 200 })]);
  });

  it('fails loudly, in one line, when the registry has no such model or alias', async () => {
    const empty = tempDir('rainops-serve-empty-');
    const none = serve(['--port', '0'], {}, empty);
    expect((await none.exited).code).toBe(1);
    expect(none.stderr()).toMatch(
      /^rainops: no model named Rain_dataset_model_prod in the registry .*rainops optimize.*\n$/,
    );
    const noAlias = await cli(['serve', '--port', '0', '--alias', 'staging'], {}, home.dir);
    expect(noAlias.code).toBe(1);
    expect(noAlias.stderr).toMatch(/^rainops: model Rain_dataset_model_prod has no alias staging; .*\n$/);
  });

  it('checks its flags (exit 2)', async () => {
    for (const [flag, value, message] of [
      ['--port', '70000', '--port'],
      ['--poll', 'often', '--poll: expected seconds'],
      ['--workers', '-1', '--workers'],
      ['--request-timeout', '0', '--request-timeout: expected more than 0 seconds'],
      ['--drain-timeout', '-1', '--drain-timeout: expected 0 or more seconds'],
    ] as const) {
      const r = await cli(['serve', flag, value], {}, home.dir);
      expect(r.code, flag).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });

  it('takes the API key from RAINOPS_API_KEY', async () => {
    const p = serve(['--port', '0'], { RAINOPS_API_KEY: 'from-env' });
    const url = await p.listening;
    expect((await post(`${url}/predict`, EXAMPLE)).status).toBe(401);
    expect((await post(`${url}/predict`, EXAMPLE, { Authorization: 'Bearer from-env' })).status).toBe(200);
    p.child.kill('SIGINT');
    expect((await p.exited).code).toBe(0);
  });

  it("answers 413 to a body past the limit while the client is still sending it (Node's fetch reads it)", async () => {
    // A real process: with client and server on one event loop, the reset this guards against does not happen.
    const p = serve(['--port', '0']);
    const url = await p.listening;
    const send = (path: string, body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body,
        duplex: 'half',
      } as RequestInit).then(
        async (r) => `${r.status} ${((await r.json()) as Json).detail}`,
        (e: Error & { cause?: { code?: string } }) => `failed: ${e.cause?.code ?? e.message}`,
      );
    const stream = (bytes: number) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          for (let n = 0; n < bytes; n += 65536) c.enqueue(new Uint8Array(Math.min(65536, bytes - n)).fill(32));
          c.close();
        },
      });
    const MB = 1_000_000;
    // By Content-Length, and counted while reading a chunked body; with keep-alive and with Connection: close.
    for (const path of ['/predict/', '/predict', '/predict?via=hono']) {
      expect(await send(path, 'x'.repeat(5 * MB)), path).toBe('413 Request body too large: at most 1048576 bytes');
      expect(await send(path, stream(5 * MB)), path).toBe('413 Request body too large: at most 1048576 bytes');
      expect(await send(path, 'x'.repeat(5 * MB), { Connection: 'close' }), path).toBe(
        '413 Request body too large: at most 1048576 bytes',
      );
    }
    for (const path of ['/predict/batch', '/predict/batch?via=hono']) {
      expect(await send(path, 'x'.repeat(10 * MB)), path).toBe('413 Request body too large: at most 8388608 bytes');
      expect(await send(path, stream(10 * MB), { Connection: 'close' }), path).toBe(
        '413 Request body too large: at most 8388608 bytes',
      );
    }
    // Refusals that come before the body (here a wrong type) reach the client the same way.
    expect(await send('/predict', 'x'.repeat(5 * MB), { 'Content-Type': 'text/csv', Connection: 'close' })).toMatch(
      /^415 Unsupported Media Type/,
    );
    // The server is fine afterwards.
    expect((await post(`${url}/predict`, EXAMPLE)).status).toBe(200);
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
  });

  it('--workers 2 serves one port from two processes and adds up their metrics', async () => {
    const p = serve(['--port', '0', '--workers', '2']);
    const url = await p.listening;
    expect(p.stderr()).toMatch(
      /listening on http:\/\/127\.0\.0\.1:\d+ \(Rain_dataset_model_prod v1 via prod_best\) with 2 workers/,
    );
    // Separate connections, so that the primary hands them to both workers.
    const results = await Promise.all(
      Array.from({ length: 20 }, () => post(`${url}/predict`, EXAMPLE, { Connection: 'close' })),
    );
    expect(results.map((r) => r.status)).toEqual(new Array(20).fill(200));
    const text = await (await fetch(`${url}/metrics`, { headers: { Connection: 'close' } })).text();
    expect(text).toMatch(/^rainops_processes 2$/m);
    expect(text).toMatch(/^rainops_http_requests_total\{method="POST",route="\/predict",status="200"\} 20$/m);
    expect(text).toMatch(
      /^rainops_model_info\{model="Rain_dataset_model_prod",alias="prod_best",version="1",engine="wasm"\} 2$/m,
    );
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
  }, 60_000);
});
