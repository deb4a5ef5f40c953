/**
 * The web UI in a real browser: Debian's Chromium driven by playwright-core (no browser is downloaded).
 * Without /usr/bin/chromium these tests are skipped, except in CI (CI or RAINOPS_REQUIRE_BROWSER set), where that fails.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/core/context.js';
import { EXAMPLE_FEATURES } from '../../src/core/dataset/example.js';
import { startService } from '../../src/core/server/service.js';
import { openStore } from '../../src/core/store/index.js';
import { openRegistry } from '../../src/registry/index.js';
import type { Registry } from '../../src/registry/index.js';
import { createUiApp } from '../../src/ui/app.js';
import type { UiApp } from '../../src/ui/app.js';
import { CHROMIUM, haveChromium, launchChromium } from '../helpers/browser.js';
import { cli, tempDir } from '../helpers/cli.js';

const MODEL = 'Rain_dataset_model_prod';
const TOKEN = 'browser-test-token';
const EVIL = '<script>window.__pwned = 1</script>';
const required = Boolean(process.env.CI || process.env.RAINOPS_REQUIRE_BROWSER);
const haveBrowser = haveChromium();

// In CI a missing browser fails the whole file instead of showing up as a skipped test.
if (required && !haveBrowser) {
  throw new Error(
    `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or set RAINOPS_CHROMIUM`,
  );
}

describe.runIf(haveBrowser)('rainops ui in Chromium', () => {
  const cwd = tempDir('rainops-ui-e2e-');
  const shots = tempDir('rainops-ui-shots-');
  const env = { RAINOPS_HOME: join(cwd, '.rainops') };
  let registry: Registry;
  let ui: UiApp;
  let server: Server;
  let base = '';
  let api: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  const outside: string[] = [];
  const consoleErrors: string[] = [];
  let optimizeRun = '';
  let trials: string[] = [];

  const run = async (argv: string[]) => {
    const r = await cli(argv, env, cwd);
    if (r.code !== 0) throw new Error(`rainops ${argv.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    // A small home: a data set of the first months, a two-trial search (v1) and a retrain (v2).
    await run(['etl', '--until', '2009-06-30']);
    const opt = JSON.parse(await run(['optimize', '--search', 'random', '--trials', '2', '--cv', '2', '--json'])) as {
      run_id: string;
    };
    optimizeRun = opt.run_id;
    await run(['retrain', '--force', '--cv', '2']);

    registry = await openRegistry(join(cwd, '.rainops/registry.db'));
    const store = openStore(`file://${join(cwd, '.rainops/store')}`, { cwd, env: {} });
    trials = (await registry.listRuns({ parentRunId: optimizeRun })).map((r) => r.id);
    await registry.setTags(optimizeRun, { note: EVIL });

    ui = createUiApp({ registry, store, logger: silentLogger, adminToken: TOKEN, actor: 'e2e' });
    server = createServer(getRequestListener(ui.fetch));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    api = await startService(
      {
        host: '127.0.0.1',
        port: 0,
        model: MODEL,
        alias: 'prod_best',
        pollSec: 0,
        requestTimeoutSec: 10,
        workers: 1,
        isWorker: false,
      },
      { registry, store, logger: silentLogger, onShutdownRequest: () => {} },
    );

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.protocol !== 'data:' && url.hostname !== '127.0.0.1') outside.push(req.url());
    });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await ui?.close();
    registry?.close();
  });

  test('the runs page lists the runs, trials beneath their search', async () => {
    await page.goto(`${base}/`);
    const names = await page.locator('#runs tbody tr td.name a').allTextContents();
    expect(names).toEqual(expect.arrayContaining(['etl', 'optimize', 'trial-0', 'trial-1', 'retrain']));
    expect(names[names.indexOf('optimize') + 1]).toBe('trial-0');
    await shot('runs');
  });

  test('filtering with the CLI grammar narrows the table', async () => {
    await page.goto(`${base}/`);
    await page.fill('input[name=filter]', 'params.search=random');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/filter=/);
    const names = await page.locator('#runs tbody tr:not(.trial) td.name a').allTextContents();
    expect(names).toEqual(['optimize']);
    await page.fill('input[name=filter]', 'params.search ~ random');
    await page.click('form.filters button[type=submit]');
    await expect.poll(() => page.locator('#filter-error').textContent()).toContain('FIELD.KEY OP VALUE');
  });

  test('a run page shows its ROC plot, and a tag holding <script> stays text', async () => {
    await page.goto(`${base}/`);
    await page.click('#runs a:text-is("optimize")');
    await page.waitForURL(/\/runs\//);
    const roc = page.locator('figure[data-artifact="plots/roc.svg"] img');
    await expect
      .poll(() =>
        roc.evaluate((el) => {
          // The DOM types are not in this project's lib: the image's own fields, typed by hand.
          const img = el as unknown as { complete: boolean; naturalWidth: number };
          return img.complete ? img.naturalWidth : 0;
        }),
      )
      .toBeGreaterThan(0);
    expect(await page.locator('#tags tr:has(th:text-is("note")) td').textContent()).toBe(EVIL);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    // A unique prefix works as in the CLI.
    await page.goto(`${base}/runs/${optimizeRun.slice(0, 8)}`);
    expect(await page.locator('h1').textContent()).toContain('optimize');
    await shot('run');
  });

  test('compare two runs: side by side, only-changed hides the rest, scatters per hyperparameter', async () => {
    await page.goto(`${base}/`);
    for (const id of trials) await page.check(`input[name=runs][value="${id}"]`);
    await page.click('button:text("Compare selected")');
    await page.waitForURL(/\/compare\?/);
    expect(await page.locator('#compare thead th').count()).toBe(3);
    const rows = page.locator('#compare tbody tr.same');
    const visibleBefore = await rows.first().isVisible();
    await page.check('#only-changed');
    expect(visibleBefore).toBe(true);
    expect(await rows.first().isVisible()).toBe(false);
    expect(await page.locator('#trials svg').count()).toBeGreaterThan(0);
    await shot('compare');
    // The search and the retrain stored their curves as points: one chart holds both ROC curves.
    const retrain = (await registry.listRuns({ topLevelOnly: true })).find((r) => r.name === 'retrain')!;
    await page.goto(`${base}/compare?runs=${optimizeRun},${retrain.id}`);
    expect(await page.locator('#roc-overlay polyline').count()).toBe(2);
    expect(await page.locator('#pr-overlay polyline').count()).toBe(2);
    await shot('compare-curves');
  });

  test('the data set page shows its row counts', async () => {
    const ds = (await registry.listDatasets())[0]!;
    await page.goto(`${base}/datasets/${ds.id.slice(0, 6)}`);
    expect(await page.locator('#rows').textContent()).toContain(String(ds.rows.train));
    expect(await page.locator('#feature-summary tbody tr').count()).toBe(16);
    await shot('dataset');
  });

  test('the predict form, submitted with the example day, answers as POST /predict/ does', async () => {
    const res = await fetch(`${api.url}/predict/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ features: EXAMPLE_FEATURES }),
    });
    const want = (await res.json()) as { probability: number; prediction_str: string; model: { version: number } };
    await page.goto(`${base}/predict`);
    expect(await page.locator('label[for="f-Humidity3pm"]').textContent()).toContain('Humidity3pm');
    await page.click('button:text("Predict")');
    await page.waitForSelector('#answer');
    expect(await page.locator('#probability').textContent()).toBe(String(want.probability));
    expect(await page.locator('#prediction-str').textContent()).toBe(want.prediction_str);
    expect(await page.locator('#model-version').textContent()).toContain(`v${want.model.version}`);
    await shot('predict');
  });

  test('promote with the token, then rainops models show sees the alias moved', async () => {
    const before = await registry.getAlias(MODEL, 'prod_best');
    const target = before === 1 ? 2 : 1;
    await page.goto(`${base}/models/${MODEL}`);
    expect(await page.locator('#alias-history').textContent()).toContain('prod_best');
    await page.click(`a.promote[data-version="${target}"]`);
    await page.waitForURL(/\/login/);
    await page.fill('input[name=token]', TOKEN);
    await page.click('button:text("Sign in")');
    await page.waitForURL(/\/promote/);
    expect(await page.locator('#head-to-head').textContent()).toMatch(/F1 on the same test rows.*0\.\d{4}/s);
    await shot('confirm');
    await page.click('#confirm');
    await page.waitForURL(new RegExp(`/models/${MODEL}\\?moved=`));
    expect(await page.locator(`#aliases tr[data-alias="prod_best"] .alias-version`).textContent()).toBe(`v${target}`);
    const shown = JSON.parse(await run(['models', 'show', MODEL, '--json'])) as {
      versions: Array<{ version: number; aliases: string[] }>;
    };
    expect(shown.versions.find((v) => v.aliases.includes('prod_best'))?.version).toBe(target);
    await shot('model');
  });

  test('no request left 127.0.0.1 and no page logged an error', () => {
    expect(outside).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
