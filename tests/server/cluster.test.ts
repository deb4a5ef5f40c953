import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../src/core/context.js';
import { createMetrics } from '../../src/core/server/metrics.js';
import type { MetricsSnapshot } from '../../src/core/server/metrics.js';
import { seriesValue } from './helpers.js';

/** A cluster worker as the primary sees it: messages both ways, an exit, a pid to kill. */
class FakeWorker extends EventEmitter {
  readonly sent: Array<{ type: string; id?: number; text?: string }> = [];
  dead = false;
  /** Whether it answers 'rainops:snapshot?' and leaves on 'rainops:shutdown'. */
  answers = true;
  leaves = true;
  readonly process = { pid: 0, kill: vi.fn((signal: string) => this.exit(null, signal)) };
  constructor(readonly index: number) {
    super();
    this.process.pid = 4000 + index;
  }
  send(m: { type: string; id?: number }) {
    this.sent.push(m);
    if (m.type === 'rainops:snapshot?' && this.answers)
      void snapshotOf(this.index).then((snapshot) => this.say({ type: 'rainops:snapshot', id: m.id, snapshot }));
    if (m.type === 'rainops:shutdown' && this.leaves) queueMicrotask(() => this.exit(0, null));
  }
  say(m: unknown) {
    this.emit('message', m);
  }
  isConnected() {
    return !this.dead;
  }
  isDead() {
    return this.dead;
  }
  exit(code: number | null, signal: string | null) {
    if (this.dead) return;
    this.dead = true;
    this.emit('exit', code, signal);
  }
}

/** What each forked worker does once forked: by default it listens at once. */
let onFork: (w: FakeWorker) => void;
const forked: FakeWorker[] = [];
vi.mock('node:cluster', () => ({
  default: {
    fork: (env: { RAINOPS_SERVE_WORKER: string }) => {
      const index = Number(env.RAINOPS_SERVE_WORKER);
      const w = new FakeWorker(index);
      forked.push(w);
      queueMicrotask(() => onFork(w));
      return w;
    },
  },
}));
const { startCluster, workerChannel } = await import('../../src/core/server/cluster.js');

/** Worker i has served i predictions of rain, 2i of dry, and i POST /predict requests, with model v(2 + i). */
function snapshotOf(i: number): Promise<MetricsSnapshot> {
  const m = createMetrics({ processMetrics: i === 1 });
  for (let k = 0; k < i; k++) m.request('POST', '/predict', 200, 0.002);
  m.predicted(i, 2 * i);
  m.modelLoaded({ model: 'rain', alias: 'prod_best', version: 2 + i, engine: 'wasm' }, false);
  return m.snapshot();
}

const listen = (w: FakeWorker) => w.say({ type: 'rainops:ready', version: 3 });
const warnings: string[] = [];
const logger: Logger = { info: () => undefined, debug: () => undefined, warn: (m) => warnings.push(m) };
const settle = () => new Promise((r) => setImmediate(r));
/** Until the asker has its answer (snapshots are gathered asynchronously). */
const answerTo = async (w: FakeWorker) => {
  for (let i = 0; i < 100 && !w.sent.some((m) => m.type === 'rainops:metrics'); i++) await settle();
  return w.sent.find((m) => m.type === 'rainops:metrics');
};

beforeEach(() => {
  forked.length = 0;
  warnings.length = 0;
  onFork = listen;
});
afterEach(() => vi.useRealTimers());

describe('startCluster', () => {
  it('forks one worker per index and resolves once all listen', async () => {
    const c = await startCluster({ workers: 3, graceMs: 1000, host: '127.0.0.1', port: 0 }, { logger });
    expect(forked.map((w) => w.index)).toEqual([1, 2, 3]);
    expect(c).toMatchObject({ version: 3, workers: 3 });
    expect(c.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await c.close();
  });

  it("answers a worker's metrics request with the sums of every worker's figures", async () => {
    const c = await startCluster({ workers: 3, graceMs: 1000, host: '127.0.0.1', port: 0 }, { logger });
    forked[1]!.say({ type: 'rainops:metrics?', id: 7 });
    const answer = await answerTo(forked[1]!);
    for (const w of forked) expect(w.sent.filter((m) => m.type === 'rainops:snapshot?')).toHaveLength(1);
    expect(answer?.id).toBe(7);
    const value = (series: string) => seriesValue(answer?.text ?? '', series);
    expect(value('rainops_predictions_total{class="1"}')).toBe(6);
    expect(value('rainops_predictions_total{class="0"}')).toBe(12);
    expect(value('rainops_http_requests_total{method="POST",route="/predict",status="200"}')).toBe(6);
    expect(value('rainops_http_request_duration_seconds_count{route="/predict"}')).toBe(6);
    expect(value('rainops_http_request_duration_seconds_bucket{le="0.0025",route="/predict"}')).toBe(6);
    expect(value('rainops_http_request_duration_seconds_bucket{le="0.001",route="/predict"}')).toBe(0);
    // Processes add up; the version is the newest any serves; each version counts the processes serving it.
    expect(value('rainops_processes')).toBe(3);
    expect(value('rainops_model_version{model="rain",alias="prod_best"}')).toBe(5);
    expect(value('rainops_model_info{model="rain",alias="prod_best",version="3",engine="wasm"}')).toBe(1);
    expect(value('rainops_model_info{model="rain",alias="prod_best",version="5",engine="wasm"}')).toBe(1);
    // prom-client's process figures come along; the start time is the oldest process's, not a sum.
    expect(value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(Math.abs(value('process_start_time_seconds') - (Date.now() / 1000 - process.uptime()))).toBeLessThan(1.5);
    // Only the asker gets the answer.
    expect(forked[0]!.sent.some((m) => m.type === 'rainops:metrics')).toBe(false);
    await c.close();
  });

  it('answers with the figures it has when a worker does not answer within a second', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const c = await startCluster({ workers: 2, graceMs: 1000, host: '127.0.0.1', port: 0 }, { logger });
    forked[0]!.answers = false;
    forked[1]!.say({ type: 'rainops:metrics?', id: 1 });
    await settle();
    expect(forked[1]!.sent.some((m) => m.type === 'rainops:metrics')).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    const answer = await answerTo(forked[1]!);
    expect(seriesValue(answer?.text ?? '', 'rainops_predictions_total{class="1"}')).toBe(2);
    expect(seriesValue(answer?.text ?? '', 'rainops_processes')).toBe(1);
    await c.close();
  });

  it('fails, naming the worker, when one exits before it listens, and stops the others', async () => {
    onFork = (w) => (w.index === 2 ? w.exit(1, null) : listen(w));
    await expect(startCluster({ workers: 3, graceMs: 1000, host: '127.0.0.1', port: 0 }, { logger })).rejects.toThrow(
      'serve: worker 2 exited (code 1) before serving',
    );
    expect(
      forked.filter((w) => w.index !== 2).every((w) => w.dead && w.sent.some((m) => m.type === 'rainops:shutdown')),
    ).toBe(true);
  });

  it('replaces a worker that dies after it listened, after a second, under the same index', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const c = await startCluster({ workers: 2, graceMs: 1000, host: '127.0.0.1', port: 0 }, { logger });
    forked[0]!.exit(null, 'SIGSEGV');
    expect(warnings).toEqual([`worker 1 (pid 4001) exited (SIGSEGV); starting another`]);
    expect(forked).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(forked.map((w) => w.index)).toEqual([1, 2, 1]);
    await c.close();
    expect(forked.every((w) => w.dead)).toBe(true);
  });

  it('asks every worker to shut down and kills one that is still there after the grace period', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const c = await startCluster({ workers: 2, graceMs: 5000, host: '127.0.0.1', port: 0 }, { logger });
    forked[1]!.leaves = false;
    const closed = c.close();
    await settle();
    expect(forked.map((w) => w.sent.at(-1)?.type)).toEqual(['rainops:shutdown', 'rainops:shutdown']);
    expect(forked[1]!.dead).toBe(false);
    await vi.advanceTimersByTimeAsync(5000);
    await closed;
    expect(forked[1]!.process.kill).toHaveBeenCalledWith('SIGKILL');
    expect(forked[0]!.process.kill).not.toHaveBeenCalled();
    // A worker stopped by close() is not replaced.
    await vi.advanceTimersByTimeAsync(2000);
    expect(forked).toHaveLength(2);
  });
});

describe('workerChannel', () => {
  let posted: unknown[];
  let restore: () => void;
  beforeEach(() => {
    posted = [];
    const send = Object.getOwnPropertyDescriptor(process, 'send');
    const connected = Object.getOwnPropertyDescriptor(process, 'connected');
    Object.defineProperty(process, 'send', {
      value: (m: unknown) => posted.push(m),
      configurable: true,
      writable: true,
    });
    Object.defineProperty(process, 'connected', { value: true, configurable: true, writable: true });
    restore = () => {
      for (const [key, d] of [
        ['send', send],
        ['connected', connected],
      ] as const) {
        if (d) Object.defineProperty(process, key, d);
        else delete (process as unknown as Record<string, unknown>)[key];
      }
    };
  });
  afterEach(() => restore());

  const metrics = () => {
    const m = createMetrics({ processMetrics: false });
    m.predicted(4, 1);
    return m;
  };

  it("answers the primary's snapshot request with this worker's figures", async () => {
    const m = metrics();
    const ch = workerChannel(m, () => undefined);
    process.emit('message', { type: 'rainops:snapshot?', id: 9 }, undefined);
    await vi.waitFor(() => expect(posted).toHaveLength(1));
    expect(posted).toEqual([{ type: 'rainops:snapshot', id: 9, snapshot: await m.snapshot() }]);
    ch.dispose();
  });

  it("asks the primary for the cluster's figures and returns its answer to that request", async () => {
    const ch = workerChannel(metrics(), () => undefined);
    const text = ch.collectMetrics();
    expect(posted).toEqual([{ type: 'rainops:metrics?', id: 1 }]);
    process.emit('message', { type: 'rainops:metrics', id: 99, text: 'not for us' }, undefined);
    process.emit('message', { type: 'rainops:metrics', id: 1, text: 'the sums' }, undefined);
    await expect(text).resolves.toBe('the sums');
    ch.dispose();
  });

  it("falls back to this worker's own figures when the primary does not answer in 2 s", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const ch = workerChannel(metrics(), () => undefined);
    const text = ch.collectMetrics();
    await vi.advanceTimersByTimeAsync(2000);
    const own = await text;
    expect(own).toMatch(/^# cluster figures unavailable; this worker's only\n/);
    expect(seriesValue(own, 'rainops_predictions_total{class="1"}')).toBe(4);
    ch.dispose();
  });

  it('says when it serves, shuts down when told or when the primary goes, and stops listening once disposed', () => {
    const onShutdown = vi.fn();
    const ch = workerChannel(metrics(), onShutdown);
    ch.announce(5);
    expect(posted).toEqual([{ type: 'rainops:ready', version: 5 }]);
    process.emit('message', { type: 'rainops:shutdown' }, undefined);
    process.emit('disconnect');
    expect(onShutdown).toHaveBeenCalledTimes(2);
    ch.dispose();
    process.emit('message', { type: 'rainops:shutdown' }, undefined);
    process.emit('message', { type: 'rainops:snapshot?', id: 1 }, undefined);
    expect(onShutdown).toHaveBeenCalledTimes(2);
    expect(posted).toHaveLength(1);
  });
});
