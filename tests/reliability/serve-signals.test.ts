import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE, modelHome, spawnServe } from '../server/helpers.js';
import type { ModelHome, ServeProcess } from '../server/helpers.js';
import { keepAliveLoad } from './keep-alive-load.js';

// The built binary: `npm run build` first (npm run test:reliability does).
let home: ModelHome;
const running: ServeProcess[] = [];

beforeAll(async () => {
  home = await modelHome(1);
}, 240_000);
afterAll(() => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  home?.close();
});

function serve(args: string[]): ServeProcess {
  const p = spawnServe(['--port', '0', ...args], home.dir, {}, { built: true });
  running.push(p);
  return p;
}

const body = JSON.stringify(EXAMPLE);
const predictRequest = `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** A 10,000-row batch written whole on its own connection; resolves with the status line and headers of the answer ('' if none). */
function batchInFlight(port: number): { written: Promise<void>; answer: Promise<string> } {
  const batch = JSON.stringify({ features: new Array(10_000).fill(EXAMPLE.features) });
  const socket = net.connect(port, '127.0.0.1');
  let got = '';
  socket.on('data', (d) => (got += d.toString('latin1')));
  socket.on('error', () => undefined);
  const answer = new Promise<string>((resolve) =>
    socket.on('close', () => resolve(got.slice(0, got.indexOf('\r\n\r\n') + 1))),
  );
  const written = new Promise<void>((resolve) =>
    socket.on('connect', () =>
      socket.write(
        `POST /predict/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(batch)}\r\n\r\n${batch}`,
        () => resolve(),
      ),
    ),
  );
  return { written, answer };
}

describe('rainops serve stops on a signal without dropping a request it accepted', () => {
  for (const [signal, workers] of [
    ['SIGTERM', 1],
    ['SIGHUP', 1],
    ['SIGTERM', 2],
    ['SIGHUP', 2],
  ] as const) {
    it(`${signal}${workers > 1 ? ` with --workers ${workers}` : ''}, while 50 keep-alive connections send and a 10,000-row batch is in flight`, async () => {
      const p = serve(['--workers', String(workers), '--drain-timeout', '10']);
      const port = Number(new URL(await p.listening).port);
      const load = keepAliveLoad(port, predictRequest, 50);
      await load.warm(5);
      const batch = batchInFlight(port);
      await batch.written;
      const signalledAt = Date.now();
      p.child.kill(signal);
      const outcome = await load.done;
      // Every request written on an accepted connection got an answer; the clients ended on refused connections.
      expect(outcome.dropped).toEqual([]);
      expect(outcome.refused).toBe(50);
      expect([...outcome.answered.keys()]).toEqual([200]);
      const answer = await batch.answer;
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer).toMatch(/\r\nConnection: close\r\n/i);
      expect(await p.exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalledAt).toBeLessThan(10_000);
      expect(p.stderr()).toContain(`serve: ${signal}: finishing requests in flight, then stopping`);
    }, 120_000);
  }

  it('exits within --drain-timeout even when a client never finishes its request, and closes idle connections at once', async () => {
    const p = serve(['--drain-timeout', '1', '--request-timeout', '60']);
    const port = Number(new URL(await p.listening).port);
    const connect = () =>
      new Promise<net.Socket>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', () => undefined);
      });
    // An idle keep-alive connection (answered once), and one that sends half a request and stalls.
    const idle = await connect();
    await new Promise<void>((r) => idle.once('data', () => r()).write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    const idleClosed = new Promise<number>((r) => idle.on('close', () => r(Date.now())));
    const stalled = await connect();
    stalled.write(
      `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 20)}`,
    );
    const stalledClosed = new Promise<number>((r) => stalled.on('close', () => r(Date.now())));
    const signalledAt = Date.now();
    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect((await idleClosed) - signalledAt).toBeLessThan(1000);
    // Cut at the drain timeout (1 s), not at the 60 s request timeout.
    const cut = (await stalledClosed) - signalledAt;
    expect(cut).toBeGreaterThanOrEqual(900);
    expect(cut).toBeLessThan(5000);
  }, 60_000);
});
