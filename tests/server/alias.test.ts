import { cpSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError, NotFoundError } from '../../src/core/errors.js';
import { createMetrics } from '../../src/core/server/metrics.js';
import { createModelHolder } from '../../src/core/server/model-holder.js';
import { startServer } from '../../src/core/server/server.js';
import { createFileStore } from '../../src/core/store/file-store.js';
import { openRegistry } from '../../src/registry/index.js';
import { tempDir } from '../helpers/cli.js';
import type { RunningServer } from '../../src/core/server/server.js';
import { EXAMPLE, memoryLogger, MODEL, modelHome, post, seriesValue, waitFor } from './helpers.js';
import type { ModelHome } from './helpers.js';

type Json = Record<string, any>;

let home: ModelHome;

beforeAll(async () => {
  home = await modelHome(3);
}, 180_000);
afterAll(async () => home?.close());

const promote = (version: number) =>
  home.registry.setAlias({ model: MODEL, alias: 'prod_best', version, actor: 'test', reason: 'serve test' });
const version = async (url: string) =>
  (((await (await post(`${url}/predict`, EXAMPLE)).json()) as Json).model as Json).version as number;
const metric = async (url: string, series: string) => seriesValue(await (await fetch(`${url}/metrics`)).text(), series);

describe('following the alias', () => {
  let s: RunningServer;
  const logger = memoryLogger();

  afterAll(async () => s?.close());

  it('swaps in the version the alias moves to, while a request in flight finishes on the old one', async () => {
    await promote(1);
    s = await startServer(
      {
        host: '127.0.0.1',
        port: 0,
        model: MODEL,
        alias: 'prod_best',
        pollSec: 0.1,
        requestTimeoutSec: 10,
        adminToken: 'adm',
      },
      { registry: home.registry, store: home.store, logger },
    );
    expect(await version(s.url)).toBe(1);
    expect(await metric(s.url, `rainops_model_version{model="${MODEL}",alias="prod_best"}`)).toBe(1);

    // A request that arrived under v1 and sends its body only after the swap.
    const body = JSON.stringify(EXAMPLE);
    const socket = net.connect(s.port, '127.0.0.1');
    let reply = '';
    socket.on('data', (d) => (reply += d.toString()));
    await new Promise((r) => socket.on('connect', r));
    socket.write(
      `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 20)}`,
    );
    await new Promise((r) => setTimeout(r, 50));

    await promote(2);
    await waitFor(async () => (await version(s.url)) === 2, 3000);
    socket.write(body.slice(20));
    await new Promise((r) => socket.on('close', r));
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply).toContain('"model":{"name":"Rain_dataset_model_prod","version":1}');

    const info = (await (await fetch(`${s.url}/model`)).json()) as Json;
    expect(info).toMatchObject({ version: 2, alias: 'prod_best' });
    expect(await metric(s.url, 'rainops_model_reloads_total')).toBe(1);
    expect(await metric(s.url, `rainops_model_version{model="${MODEL}",alias="prod_best"}`)).toBe(2);
    expect(logger.lines.join('\n')).toContain('moved from v1 to v2: now serving v2');
  });

  it('keeps serving the old version when the new bundle fails its checksum, counts it, and retries on demand', async () => {
    const trees = join(home.rainopsHome, 'store/models', MODEL, '3/trees.json');
    const original = readFileSync(trees);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 3] = tampered[tampered.length - 3]! ^ 1;
    writeFileSync(trees, tampered);
    try {
      await promote(3);
      await waitFor(async () => (await metric(s.url, 'rainops_model_reload_failures_total')) === 1, 3000);
      expect(await version(s.url)).toBe(2);
      // Serving, but not what the alias points at: not ready, and why.
      const ready = await fetch(`${s.url}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        status: 'stale',
        model: MODEL,
        version: 2,
        reason: expect.stringMatching(
          /^alias prod_best points at v3, which could not be loaded \(.*does not match its recorded sha256.*\); still serving v2$/,
        ),
      });
      expect(logger.lines.join('\n')).toMatch(
        /could not load Rain_dataset_model_prod v3 \(alias prod_best\): .*trees\.json does not match its recorded sha256.*still serving v2/,
      );
      // Not retried on every poll (that would log and count every 100 ms): a poll now skips it.
      expect(await s.holder.refresh()).toMatchObject({
        status: 'skipped',
        version: 3,
        reason: expect.stringMatching(/^v3 failed to load; next try after /),
      });
      expect(await metric(s.url, 'rainops_model_reload_failures_total')).toBe(1);
    } finally {
      writeFileSync(trees, original);
    }
    const reload = await fetch(`${s.url}/admin/reload`, { method: 'POST', headers: { Authorization: 'Bearer adm' } });
    expect(await reload.json()).toEqual({ status: 'loaded', version: 3, previous: 2 });
    expect(await version(s.url)).toBe(3);
    expect(await metric(s.url, 'rainops_model_reloads_total')).toBe(2);
    expect(await (await fetch(`${s.url}/ready`)).json()).toEqual({ status: 'ready', model: MODEL, version: 3 });
  });

  it('keeps serving when the alias is removed, and says so once', async () => {
    await home.registry.deleteAlias({ model: MODEL, alias: 'prod_best', actor: 'test', reason: 'serve test' });
    try {
      await waitFor(
        () =>
          logger.lines.some((l) =>
            l.includes('alias prod_best of Rain_dataset_model_prod was removed; still serving v3'),
          ),
        3000,
      );
      // Polls that find it still gone say nothing more.
      await s.holder.refresh();
      await s.holder.refresh();
      expect(logger.lines.filter((l) => l.includes('was removed')).length).toBe(1);
      expect(await version(s.url)).toBe(3);
      expect((await fetch(`${s.url}/ready`)).status).toBe(503);
    } finally {
      await promote(3);
    }
    await waitFor(async () => (await fetch(`${s.url}/ready`)).status === 200, 3000);
  });
});

describe('following the registry file', () => {
  let clone: { dir: string; file: string };
  let s: RunningServer;
  const logger = memoryLogger();

  beforeAll(async () => {
    // A home of its own (the store copied, the registry backed up), so that its file can be moved about.
    const dir = tempDir('rainops-serve-clone-');
    cpSync(join(home.rainopsHome, 'store'), join(dir, 'store'), { recursive: true });
    const file = join(dir, 'registry.db');
    await backup(join(home.rainopsHome, 'registry.db'), file);
    clone = { dir, file };
  });
  afterAll(async () => {
    await s?.close();
    rmSync(clone.dir, { recursive: true, force: true });
  });

  /** A copy of the clone's registry with prod_best moved to `to`, ready to be renamed into place. */
  async function registryPointingAt(to: number, from = clone.file): Promise<string> {
    const next = join(clone.dir, `next-${to}.db`);
    await backup(from, next);
    const r = await openRegistry(next);
    await r.setAlias({ model: MODEL, alias: 'prod_best', version: to, actor: 'test', reason: 'replaced file' });
    await r.close();
    return next;
  }

  it('follows a registry file replaced by rename, and reports one that is removed while it keeps serving', async () => {
    const own = await openRegistry(clone.file);
    await own.setAlias({ model: MODEL, alias: 'prod_best', version: 1, actor: 'test', reason: 'start' });
    s = await startServer(
      { host: '127.0.0.1', port: 0, model: MODEL, alias: 'prod_best', pollSec: 0.1, requestTimeoutSec: 10 },
      { registry: own, store: createFileStore(join(clone.dir, 'store')), logger },
    );
    expect(await version(s.url)).toBe(1);

    renameSync(await registryPointingAt(2), clone.file);
    await waitFor(async () => (await version(s.url)) === 2, 5000);
    expect(logger.lines.join('\n')).toContain(`the registry file ${clone.file} was replaced; following the new one`);
    expect((await fetch(`${s.url}/ready`)).status).toBe(200);

    // Removed: the server keeps its model, says so once, and is not ready.
    const aside = join(clone.dir, 'aside.db');
    renameSync(clone.file, aside);
    const ready = await waitFor(async () => {
      const r = await fetch(`${s.url}/ready`);
      return r.status === 503 ? ((await r.json()) as Json) : null;
    }, 5000);
    expect(ready).toEqual({
      status: 'stale',
      model: MODEL,
      version: 2,
      reason: `the registry file ${clone.file} was removed; not following the alias until it is back; still serving v2`,
    });
    expect(await version(s.url)).toBe(2);
    // a negative check: several 100 ms polls go by, and none may say it again
    await new Promise((r) => setTimeout(r, 300));
    expect(logger.lines.filter((l) => l.includes('was removed')).length).toBe(1);

    // Back (here a new file, pointing at v3): followed again.
    renameSync(await registryPointingAt(3, aside), clone.file);
    await waitFor(async () => (await version(s.url)) === 3, 5000);
    expect(await (await fetch(`${s.url}/ready`)).json()).toEqual({ status: 'ready', model: MODEL, version: 3 });
  });
});

/** A consistent copy of a registry file in use (SQLite's online backup, which includes the write-ahead log). */
async function backup(from: string, to: string): Promise<void> {
  const db = new Database(from, { readonly: true });
  try {
    await db.backup(to);
  } finally {
    db.close();
  }
}

describe('the model holder', () => {
  it('refuses to start without the model or the alias, or with a tampered bundle', async () => {
    const deps = { registry: home.registry, store: home.store, logger: memoryLogger() };
    await expect(createModelHolder({ model: 'Nope', alias: 'prod_best', pollMs: 0 }, deps).init()).rejects.toThrow(
      NotFoundError,
    );
    await expect(createModelHolder({ model: 'Nope', alias: 'prod_best', pollMs: 0 }, deps).init()).rejects.toThrow(
      /no model named Nope in the registry/,
    );
    await expect(createModelHolder({ model: MODEL, alias: 'staging', pollMs: 0 }, deps).init()).rejects.toThrow(
      /has no alias staging/,
    );
    await promote(1);
    const trees = join(home.rainopsHome, 'store/models', MODEL, '1/trees.json');
    const original = readFileSync(trees);
    writeFileSync(trees, Buffer.concat([original, Buffer.from(' ')]));
    try {
      await expect(createModelHolder({ model: MODEL, alias: 'prod_best', pollMs: 0 }, deps).init()).rejects.toThrow(
        IntegrityError,
      );
    } finally {
      writeFileSync(trees, original);
    }
  });

  it('loads one version at a time however many polls ask, and swaps atomically', async () => {
    await promote(1);
    let loads = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const { loadPredictor } = await import('../../src/core/registration.js');
    const metrics = createMetrics();
    const holder = createModelHolder(
      { model: MODEL, alias: 'prod_best', pollMs: 0 },
      {
        registry: home.registry,
        store: home.store,
        logger: memoryLogger(),
        metrics,
        load: async (v) => {
          loads++;
          if (v === 2) await gate;
          return loadPredictor(home.registry, home.store, MODEL, v);
        },
      },
    );
    const first = await holder.init();
    await promote(2);
    const a = holder.refresh();
    const b = holder.refresh();
    expect(holder.current()).toBe(first);
    await release();
    expect(await a).toEqual({ status: 'loaded', version: 2, previous: 1 });
    expect(await b).toEqual(await a);
    expect(loads).toBe(2);
    expect(holder.current()!.version).toBe(2);
    // The object a request took before the swap still scores with v1.
    expect(first.predictor.version).toBe(1);
    expect(seriesValue(await metrics.render(), 'rainops_model_reloads_total')).toBe(1);
    await holder.stop();
    await promote(1);
  });
});
