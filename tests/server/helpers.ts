import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';
import { silentLogger } from '../../src/core/context.js';
import { EXAMPLE_FEATURES } from '../../src/core/dataset/example.js';
import type { Logger } from '../../src/core/context.js';
import { createFileStore } from '../../src/core/store/file-store.js';
import type { ArtifactStore } from '../../src/core/store/types.js';
import { openRegistry } from '../../src/registry/index.js';
import type { Registry } from '../../src/registry/index.js';
import { cli, tempDir, weatherCsvText } from '../helpers/cli.js';

export const MODEL = 'Rain_dataset_model_prod';

/** The Python original's curl example. */
export const EXAMPLE = { features: EXAMPLE_FEATURES };

export interface ModelHome {
  /** The working directory; RAINOPS_HOME is `${dir}/.rainops`. */
  dir: string;
  rainopsHome: string;
  registry: Registry;
  store: ArtifactStore;
  close(): void;
}

/**
 * A registry with trained versions of the model, fast: ETL on every 48th row of weatherAUS (about 3,000
 * rows from every station), then `versions` one-candidate searches; v1 holds prod_best.
 */
export async function modelHome(versions = 1): Promise<ModelHome> {
  const dir = tempDir('rainops-serve-');
  const csv = join(dir, 'small.csv');
  const lines = weatherCsvText().split('\n');
  writeFileSync(csv, `${lines.filter((l, i) => i === 0 || (i % 48 === 0 && l !== '')).join('\n')}\n`);
  expect((await cli(['etl', '--source', csv], {}, dir)).code).toBe(0);
  for (let v = 1; v <= versions; v++) {
    const grid = join(dir, `grid${v}.json`);
    // Each version a little different, so that their answers differ.
    writeFileSync(grid, JSON.stringify({ learningRate: [0.3], maxDepth: [2 + v], nEstimators: [10 + 5 * v] }));
    const r = await cli(
      [
        'optimize',
        '--grid',
        grid,
        '--cv',
        '2',
        '--engine',
        'wasm',
        '--jobs',
        '1',
        '--promote',
        v === 1 ? 'always' : 'never',
      ],
      {},
      dir,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
  }
  const rainopsHome = join(dir, '.rainops');
  const registry = await openRegistry(join(rainopsHome, 'registry.db'));
  const store = createFileStore(join(rainopsHome, 'store'));
  return { dir, rainopsHome, registry, store, close: () => registry.close() };
}

/** A logger that keeps its lines, for asserting what the server said. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { ...silentLogger, lines, info: (m) => lines.push(m), warn: (m) => lines.push(`warning: ${m}`) };
}

export async function waitFor<T>(
  probe: () => Promise<T | null | undefined> | T | null | undefined,
  timeoutMs = 5000,
  stepMs = 25,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export const ENTRY = resolve(__dirname, 'fixtures/entry.ts');
// By URL: the server runs in a temp folder, where the bare name 'tsx' would not resolve.
const TSX = pathToFileURL(resolve(__dirname, '../../node_modules/tsx/dist/loader.mjs')).href;

export interface ServeProcess {
  child: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Resolves with the URL once the server says it listens (rejects if it exits first). */
  listening: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The built binary (`npm run build` first). */
export const BIN = resolve(__dirname, '../../bin/rainops.js');

/** `rainops serve ...` in its own process, from source (through tsx), or the built binary with `built`. */
export function spawnServe(
  args: string[],
  dir: string,
  env: Record<string, string> = {},
  opts: { built?: boolean } = {},
): ServeProcess {
  const entry = opts.built ? [BIN] : ['--import', TSX, ENTRY];
  const child = spawn(process.execPath, [...entry, 'serve', ...args], {
    cwd: dir,
    env: { ...process.env, RAINOPS_HOME: join(dir, '.rainops'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on('close', (code, signal) => res({ code, signal })),
  );
  const listening = new Promise<string>((res, rej) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) res(m[1]!);
    });
    void exited.then(({ code }) => rej(new Error(`serve exited with ${String(code)} before listening:\n${err}`)));
  });
  // A test that expects the process to fail awaits `exited` instead; awaiting `listening` still rejects.
  listening.catch(() => undefined);
  return { child, stderr: () => err, stdout: () => out, listening, exited };
}

export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** The value of one series (`name{labels}` exactly as exposed) in Prometheus text; NaN when it is absent. */
export function seriesValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}
