import { createServer } from 'node:http';
import type { Server } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RainopsError } from '../../src/core/errors.js';
import { remoteScorer } from '../../src/core/predict/remote.js';
import { EXAMPLE_FEATURES } from './fixtures.js';

let server: Server | null = null;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = null;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => 'answered',
    (e: unknown) => e,
  );

describe('remoteScorer limits (predict --url)', () => {
  it('gives up on a server that accepts the request and never answers (--read-timeout)', async () => {
    const url = await serve(() => undefined);
    const err = await failure(remoteScorer(url, { readTimeoutMs: 300 }).predict(EXAMPLE_FEATURES));
    expect(err).toBeInstanceOf(RainopsError);
    expect((err as Error).message).toBe(
      `predict: ${url}/predict: no answer for 0.3 s (--read-timeout); check that rainops serve runs there and is not overloaded`,
    );
  });

  it('gives up on a server that trickles an answer with gaps longer than the read timeout', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"prediction_bool": ');
    });
    const err = await failure(remoteScorer(url, { readTimeoutMs: 300 }).predict(EXAMPLE_FEATURES));
    expect((err as Error).message).toMatch(/no answer for 0\.3 s \(--read-timeout\)/);
  });

  it('stops reading an answer that never ends at --max-response, instead of filling memory', async () => {
    let sent = 0;
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) sent += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const err = await failure(remoteScorer(url, { maxResponseBytes: 1024 * 1024 }).predict(EXAMPLE_FEATURES));
    expect((err as Error).message).toBe(
      `predict: ${url}/predict: the answer is larger than 1048576 bytes (--max-response); check that rainops serve runs there and is not overloaded`,
    );
    // The server was cut off near the cap (its socket buffers aside), not after gigabytes.
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });

  it('gives up on a connection that does not open (--connect-timeout)', async () => {
    // A socket that stays "connecting", like one to a host that drops the handshake.
    const stuck = () => {
      const socket = new net.Socket();
      Object.defineProperty(socket, 'connecting', { value: true });
      return socket;
    };
    const err = await failure(
      remoteScorer('http://192.0.2.1:8800', { connectTimeoutMs: 200, createConnection: stuck }).predict(
        EXAMPLE_FEATURES,
      ),
    );
    expect((err as Error).message).toBe(
      'predict: http://192.0.2.1:8800/predict: could not connect within 0.2 s (--connect-timeout); check that rainops serve runs there and is not overloaded',
    );
  });

  it('checks the flags: they go with --url, and take positive numbers', async () => {
    const { cli } = await import('../helpers/cli.js');
    const features = JSON.stringify({ features: EXAMPLE_FEATURES });
    expect((await cli(['predict', '--features', features, '--read-timeout', '5'])).stderr).toContain(
      '--read-timeout: goes with --url',
    );
    const r = await cli(['predict', '--features', features, '--url', 'http://127.0.0.1:1', '--connect-timeout', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--connect-timeout: expected more than 0 seconds');
    expect(
      (await cli(['predict', '--features', features, '--url', 'http://127.0.0.1:1', '--max-response', 'lots'])).stderr,
    ).toContain('--max-response: expected a size in MiB');
  });
});
