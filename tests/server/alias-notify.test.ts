import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModelHolder } from '../../src/core/server/model-holder.js';
import { startServer } from '../../src/core/server/server.js';
import type { RunningServer } from '../../src/core/server/server.js';
import { openRegistry } from '../../src/registry/index.js';
import type { Registry } from '../../src/registry/index.js';
import { EXAMPLE, MODEL, memoryLogger, modelHome, post, seriesValue, waitFor } from './helpers.js';
import type { ModelHome } from './helpers.js';
import { PG_URL, pgAdmin, requirePg } from '../helpers/pg.js';

type Json = Record<string, any>;

requirePg('the serve tests on PostgreSQL');

const who = { actor: 'test', reason: 'notify test' };
const version = async (url: string) =>
  (((await (await post(`${url}/predict`, EXAMPLE)).json()) as Json).model as Json).version as number;
const metric = async (url: string, series: string) => seriesValue(await (await fetch(`${url}/metrics`)).text(), series);

let home: ModelHome;

beforeAll(async () => {
  home = await modelHome(2);
}, 180_000);
afterAll(async () => home?.close());

describe('on SQLite', () => {
  it('the watch is a no-op and polling still follows the alias', async () => {
    const promote = (v: number) => home.registry.setAlias({ model: MODEL, alias: 'prod_best', version: v, ...who });
    await promote(1);
    const holder = createModelHolder(
      { model: MODEL, alias: 'prod_best', pollMs: 50 },
      { registry: home.registry, store: home.store, logger: memoryLogger() },
    );
    try {
      await holder.init();
      await holder.start();
      await promote(2);
      await waitFor(() => holder.current()?.version === 2);
      expect(holder.problem()).toBeNull();
    } finally {
      await holder.stop();
      await promote(1);
    }
  });
});

/** The SQLite home's versions registered again in `target` (same bundles in the same store), v1 under prod_best. */
async function copyVersions(from: Registry, target: Registry): Promise<void> {
  const run = await target.startRun({ experiment: 'Rain Dataset', name: 'copy' });
  await target.finishRun(run.id, { status: 'FINISHED' });
  const versions = (await from.listModelVersions(MODEL)).sort((a, b) => a.version - b.version);
  for (const mv of versions) {
    const { createdAt: _c, ...dataset } = await from.getDataset(mv.datasetId);
    if ((await target.listDatasets()).every((d) => d.id !== dataset.id)) await target.registerDataset(dataset);
    const made = await target.createModelVersion({
      model: MODEL,
      runId: run.id,
      datasetId: mv.datasetId,
      bundleUri: mv.bundleUri,
      bundleSha256: mv.bundleSha256,
      engine: mv.engine,
      params: mv.params,
      metrics: mv.metrics,
    });
    expect(made.version).toBe(mv.version);
  }
  await target.setAlias({ model: MODEL, alias: 'prod_best', version: 1, ...who });
}

describe.skipIf(!PG_URL)('on PostgreSQL', () => {
  const database = `rainops_notify_${randomBytes(6).toString('hex')}`;
  const url = new URL(PG_URL ?? 'postgres://localhost/none');
  url.pathname = `/${database}`;
  let served: Registry;
  let other: Registry;
  let s: RunningServer;
  const logger = memoryLogger();

  beforeAll(async () => {
    await pgAdmin(`CREATE DATABASE ${database}`);
    served = await openRegistry(url.href);
    other = await openRegistry(url.href);
    await copyVersions(home.registry, other);
    // A poll a minute apart: only the notification can explain a swap within seconds.
    s = await startServer(
      { host: '127.0.0.1', port: 0, model: MODEL, alias: 'prod_best', pollSec: 60, requestTimeoutSec: 10 },
      { registry: served, store: home.store, logger },
    );
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    await served?.close();
    await other?.close();
    await pgAdmin(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`).catch(() => {});
    await pgAdmin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });

  it('answers with the new version within 2 s of a move made on another connection', async () => {
    expect(await version(s.url)).toBe(1);
    const started = performance.now();
    await other.setAlias({ model: MODEL, alias: 'prod_best', version: 2, ...who });
    await waitFor(async () => (await version(s.url)) === 2, 2000, 10);
    const ms = performance.now() - started;
    console.log(`swap after the move committed: ${ms.toFixed(0)} ms (poll every 60 s)`);
    expect(await metric(s.url, 'rainops_model_reloads_total')).toBe(1);
    expect(await metric(s.url, 'rainops_registry_up')).toBe(1);
  });

  it('keeps serving while the database cannot be reached, says so on /ready and /metrics, and recovers', async () => {
    const listener = async () => {
      const c = new pg.Client({ connectionString: url.href });
      await c.connect();
      try {
        const r = await c.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN rainops_alias'",
        );
        return r.rows[0]?.pid ?? null;
      } finally {
        await c.end();
      }
    };
    const pid = await listener();
    expect(pid).not.toBeNull();
    // No new connection gets in: the watch's reconnects fail until this is undone.
    await pgAdmin(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
    await pgAdmin(`SELECT pg_terminate_backend(${pid})`);
    await waitFor(async () => (await metric(s.url, 'rainops_registry_up')) === 0);
    const ready = await fetch(`${s.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({
      status: 'stale',
      model: MODEL,
      version: 2,
      reason: expect.stringMatching(
        /^the registry is unreachable \(cannot use the registry database .*; still serving v2$/,
      ),
    });
    expect(await version(s.url)).toBe(2);

    await pgAdmin(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
    await waitFor(async () => (await metric(s.url, 'rainops_registry_up')) === 1, 10_000);
    expect((await fetch(`${s.url}/ready`)).status).toBe(200);
    expect(logger.lines.join('\n')).toContain('the registry is reachable again');
    // Listening again: a move is heard without waiting for the poll.
    await other.setAlias({ model: MODEL, alias: 'prod_best', version: 1, ...who });
    await waitFor(async () => (await version(s.url)) === 1, 2000, 10);
  }, 30_000);
});
