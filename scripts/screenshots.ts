/**
 * The README's screenshots of the web UI: `npm run screenshots` (or `-- --home DIR` to shoot an existing home).
 * Without --home it builds a small home first (a few months of data, a two-trial search, a retrain) in a temp dir.
 * Writes docs/ui-runs.png and docs/ui-model.png with Debian's Chromium, as the browser tests use it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { run } from '../src/cli.js';
import { MODEL_NAME, silentLogger } from '../src/core/context.js';
import { nativeEngineEnv } from '../src/core/models/native-lib.js';
import { openStore } from '../src/core/store/index.js';
import { openRegistry } from '../src/registry/index.js';
import { createUiApp } from '../src/ui/app.js';
import { launchChromium } from '../tests/helpers/browser.js';

const DOCS = resolve(import.meta.dirname, '../docs');

async function rainops(argv: string[], home: string): Promise<void> {
  const stdin = new PassThrough();
  stdin.end();
  let err = '';
  const code = await run(argv, {
    stdout: { write: () => true },
    stderr: { write: (s: string) => (err += s), isTTY: false },
    stdin,
    env: { ...process.env, RAINOPS_HOME: home },
    cwd: process.cwd(),
  });
  if (code !== 0) throw new Error(`rainops ${argv.join(' ')} failed: ${err}`);
}

async function main(): Promise<void> {
  Object.assign(process.env, nativeEngineEnv(process.env));
  const at = process.argv.indexOf('--home');
  const given = at >= 0 ? process.argv[at + 1] : undefined;
  const temp = given ? null : mkdtempSync(join(tmpdir(), 'rainops-shots-'));
  const home = given ? resolve(given) : join(temp!, '.rainops');
  try {
    if (!given) {
      process.stderr.write(`building a small home in ${home}\n`);
      await rainops(['etl', '--until', '2009-06-30'], home);
      await rainops(['optimize', '--search', 'random', '--trials', '3', '--cv', '2'], home);
      await rainops(['retrain', '--force', '--cv', '2'], home);
    }
    const registry = await openRegistry(join(home, 'registry.db'), { readonly: true });
    const store = openStore(process.env.RAINOPS_STORE ?? `file://${join(home, 'store')}`, {
      cwd: process.cwd(),
      env: process.env,
    });
    const ui = createUiApp({ registry, store, logger: silentLogger });
    const server = createServer(getRequestListener(ui.fetch));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 760 }, deviceScaleFactor: 1 });
      await page.goto(`${base}/`);
      await page.screenshot({ path: join(DOCS, 'ui-runs.png') });
      const model = (await registry.listModels())[0]?.name ?? MODEL_NAME;
      await page.goto(`${base}/models/${encodeURIComponent(model)}`);
      await page.screenshot({ path: join(DOCS, 'ui-model.png'), fullPage: true });
      process.stderr.write(`wrote ${join(DOCS, 'ui-runs.png')} and ${join(DOCS, 'ui-model.png')}\n`);
    } finally {
      await browser.close();
      await new Promise<void>((r) => server.close(() => r()));
      await ui.close();
      await registry.close();
    }
  } finally {
    if (temp) rmSync(temp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`screenshots: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
