import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/context.js';
import { EXAMPLE_FEATURES } from '../../src/core/dataset/example.js';
import { createPredictionLog, RequestText } from '../../src/core/server/prediction-log.js';
import { createMemoryStore } from '../../src/core/store/memory-store.js';
import type { ArtifactStore } from '../../src/core/store/types.js';
import { cli, tempDir } from '../helpers/cli.js';
import { modelHome, post, spawnServe, waitFor } from '../server/helpers.js';
import type { ModelHome } from '../server/helpers.js';

/** Logged rows under predictions/ in a store. */
async function loggedRows(store: ArtifactStore): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const key of await store.list('predictions/')) {
    const text = gunzipSync(await store.get(key)).toString('utf8');
    for (const line of text.split('\n')) if (line) rows.push(JSON.parse(line) as Record<string, unknown>);
  }
  return rows;
}

/** A memory store whose writes fail while `down` is set, as an unreachable S3 would. */
function flakyStore(): ArtifactStore & { down: boolean } {
  const inner = createMemoryStore();
  const s = Object.create(inner) as ArtifactStore & { down: boolean };
  s.down = false;
  s.put = async (key, body) => {
    if (s.down) throw new Error('connect ECONNREFUSED 127.0.0.1:9000');
    return inner.put(key, body);
  };
  return s;
}

describe('the prediction log', () => {
  it('writes batches as gzip JSON lines under predictions/<model>/<day>/', async () => {
    const store = createMemoryStore();
    const log = createPredictionLog(
      { model: 'm', spoolDir: join(tempDir(), 'spool'), host: 'h', pid: 7, now: () => Date.UTC(2026, 11, 2, 10) },
      { store, logger: silentLogger },
    );
    for (let i = 0; i < 25; i++) log.record({ ...EXAMPLE_FEATURES, MinTemp: i }, 0.25, 0, 3, `r${i}`);
    await log.close();
    const keys = await store.list('predictions/');
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^predictions\/m\/2026-12-02\/h-7-[0-9a-f]{8}-1\.jsonl\.gz$/);
    const rows = await loggedRows(store);
    expect(rows).toHaveLength(25);
    expect(rows[3]).toMatchObject({
      time: '2026-12-02T10:00:00.000Z',
      request_id: 'r3',
      model: 'm',
      version: 3,
      probability: 0.25,
      prediction: 0,
      inputs: { MinTemp: 3, Location: 'Adelaide' },
    });
    expect(log.counts).toEqual({ logged: 25, spooled: 0, dropped: 0 });
  });

  it('logs a request body as it came, unless it spans lines', async () => {
    const store = createMemoryStore();
    const log = createPredictionLog(
      { model: 'm', spoolDir: join(tempDir(), 'spool'), host: 'h', pid: 7 },
      { store, logger: silentLogger },
    );
    log.record(new RequestText(JSON.stringify({ features: EXAMPLE_FEATURES })), 0.5, 1, 1);
    log.record(new RequestText(JSON.stringify({ features: EXAMPLE_FEATURES }, null, 2)), 0.5, 1, 1);
    await log.close();
    const rows = await loggedRows(store);
    expect(rows[0]).toMatchObject({ request: { features: EXAMPLE_FEATURES } });
    expect(rows[0]).not.toHaveProperty('inputs');
    expect(rows[1]).toMatchObject({ inputs: { features: EXAMPLE_FEATURES } });
  });

  it('keeps memory bounded: past the cap rows are dropped and counted', async () => {
    const store = createMemoryStore();
    const log = createPredictionLog(
      { model: 'm', spoolDir: join(tempDir(), 'spool'), host: 'h', pid: 1, maxRows: 10, batchRows: 1000 },
      { store, logger: silentLogger },
    );
    for (let i = 0; i < 15; i++) log.record(EXAMPLE_FEATURES, 0.5, 1, 1);
    await log.close();
    expect(log.counts).toEqual({ logged: 10, spooled: 0, dropped: 5 });
    expect(await loggedRows(store)).toHaveLength(10);
  });

  it('samples: --log-sample 0.25 keeps about a quarter', async () => {
    const store = createMemoryStore();
    let k = 0;
    const log = createPredictionLog(
      // A deterministic "random" walk over [0, 1): exactly every fourth row is kept.
      { model: 'm', spoolDir: join(tempDir(), 'spool'), host: 'h', pid: 1, sample: 0.25, random: () => (k++ % 4) / 4 },
      { store, logger: silentLogger },
    );
    for (let i = 0; i < 400; i++) log.record(EXAMPLE_FEATURES, 0.5, 1, 1);
    await log.close();
    expect(log.counts.logged).toBe(100);
  });

  it('spools while the store is down and uploads once it is back: as many rows as predictions', async () => {
    const store = flakyStore();
    const spoolDir = join(tempDir(), 'spool');
    const log = createPredictionLog(
      { model: 'm', spoolDir, host: 'h', pid: 2, batchRows: 1_000_000, flushMs: 3_600_000 },
      { store, logger: silentLogger },
    );
    store.down = true;
    for (let i = 0; i < 120; i++) log.record(EXAMPLE_FEATURES, 0.5, 1, 1);
    await log.flush();
    for (let i = 0; i < 30; i++) log.record(EXAMPLE_FEATURES, 0.5, 1, 1);
    await log.flush();
    expect(log.counts).toEqual({ logged: 0, spooled: 150, dropped: 0 });
    expect(readdirSync(spoolDir).filter((n) => n.endsWith('.jsonl.gz'))).toHaveLength(2);
    expect(await store.list('predictions/')).toEqual([]);

    store.down = false;
    for (let i = 0; i < 50; i++) log.record(EXAMPLE_FEATURES, 0.5, 1, 1);
    await log.close();
    expect(log.counts).toEqual({ logged: 200, spooled: 150, dropped: 0 });
    expect(await loggedRows(store)).toHaveLength(200);
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('a spool left by another process is uploaded by the next flush', async () => {
    const store = flakyStore();
    const spoolDir = join(tempDir(), 'spool');
    store.down = true;
    const first = createPredictionLog({ model: 'm', spoolDir, host: 'h', pid: 3 }, { store, logger: silentLogger });
    for (let i = 0; i < 40; i++) first.record(EXAMPLE_FEATURES, 0.5, 1, 1);
    await first.close();
    store.down = false;
    const second = createPredictionLog({ model: 'm', spoolDir, host: 'h', pid: 4 }, { store, logger: silentLogger });
    await second.close();
    expect(second.counts.logged).toBe(40);
    expect(await loggedRows(store)).toHaveLength(40);
  });
});

describe('serve --log-predictions', () => {
  let home: ModelHome;
  beforeAll(async () => {
    home = await modelHome();
  }, 120_000);
  afterAll(() => home?.close());

  for (const workers of ['1', '2']) {
    it(`with --workers ${workers}: N predictions, SIGTERM, and the store holds N rows`, async () => {
      await home.store.removePrefix('predictions');
      const s = spawnServe(['--port', '0', '--log-predictions', '--workers', workers], home.dir);
      const url = await s.listening;
      const N = 37;
      const bodies = Array.from({ length: 25 }, (_, i) => ({ features: { ...EXAMPLE_FEATURES, MinTemp: i } }));
      for (const b of bodies) expect((await post(`${url}/predict`, b, { 'X-Request-Id': 'abc' })).status).toBe(200);
      const batch = await post(`${url}/predict/batch`, {
        features: Array.from({ length: 12 }, () => EXAMPLE_FEATURES),
      });
      expect(batch.status).toBe(200);
      s.child.kill('SIGTERM');
      expect((await s.exited).code).toBe(0);
      const rows = await loggedRows(home.store);
      expect(rows).toHaveLength(N);
      expect(rows.filter((r) => r.request_id === 'abc')).toHaveLength(25);
      expect(rows.every((r) => r.model === 'Rain_dataset_model_prod' && r.version === 1)).toBe(true);
    }, 60_000);
  }

  it('/metrics counts logged rows; monitor --against predictions reads them', async () => {
    await home.store.removePrefix('predictions');
    const s = spawnServe(['--port', '0', '--log-predictions'], home.dir);
    const url = await s.listening;
    const batch = await post(`${url}/predict/batch`, { features: Array.from({ length: 300 }, () => EXAMPLE_FEATURES) });
    expect(batch.status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await post(`${url}/predict`, { features: EXAMPLE_FEATURES })).status).toBe(200);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^rainops_prediction_log_rows_dropped_total 0$/m);
    s.child.kill('SIGTERM');
    await s.exited;
    const today = new Date().toISOString().slice(0, 10);
    const r = await cli(['monitor', '--against', 'predictions', '--since', today, '--json'], {}, home.dir);
    const out = JSON.parse(r.stdout);
    expect(out.current).toMatchObject({ kind: 'predictions', rows: 305, labelled: 0 });
    // Every logged row was read with its inputs: Humidity3pm is 95 in each, never missing.
    expect(out.features.find((f: { feature: string }) => f.feature === 'Humidity3pm').missing_current).toBe(0);
    // 300 copies of one day are nothing like the training rows.
    expect(r.code).toBe(3);
    expect(out.quality.labelled).toBe(false);
    expect(out.calibration.on).toMatch(/test rows/);
    const none = await cli(['monitor', '--against', 'predictions', '--since', '2999-01-01'], {}, home.dir);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no logged predictions/);
  }, 60_000);

  it('the counters show up in /metrics while serving', async () => {
    const s = spawnServe(['--port', '0', '--log-predictions'], home.dir);
    const url = await s.listening;
    await post(`${url}/predict`, { features: EXAMPLE_FEATURES });
    const text = await waitFor(async () => {
      const t = await (await fetch(`${url}/metrics`)).text();
      return /rainops_prediction_log_rows_logged_total/.test(t) ? t : null;
    });
    expect(text).toMatch(/^rainops_prediction_log_rows_spooled_total 0$/m);
    s.child.kill('SIGTERM');
    await s.exited;
  }, 60_000);
});
