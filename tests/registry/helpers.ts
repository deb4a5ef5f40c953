import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { onTestFinished } from 'vitest';
import { openRegistry } from '../../src/registry/index.js';
import type { OpenRegistryOptions, Registry } from '../../src/registry/index.js';

export const SHA_A = 'a'.repeat(64);
export const SHA_B = 'b'.repeat(64);

/** A fresh directory removed when the current test ends. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rainops-registry-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Path of a registry file that does not exist yet, in a folder that does not exist yet either. */
export function tempDbPath(): string {
  return path.join(tempDir(), 'home', 'registry.db');
}

/** Opens a registry that is closed when the current test ends. */
export async function open(file: string, opts: OpenRegistryOptions = {}): Promise<Registry> {
  const registry = await openRegistry(file, opts);
  onTestFinished(() => registry.close());
  return registry;
}

export interface FakeClock {
  now: () => Date;
  advance: (ms: number) => void;
}

export function fakeClock(start = '2024-03-01T00:00:00.000Z'): FakeClock {
  let t = Date.parse(start);
  return {
    now: () => new Date(t),
    advance: (ms) => {
      t += ms;
    },
  };
}

/** A run plus a data set, enough to register model versions. */
export async function seedRunAndDataset(
  registry: Registry,
  datasetId = 'ds-1',
): Promise<{ runId: string; datasetId: string }> {
  const run = await registry.startRun({ experiment: 'Rain Dataset', name: 'train' });
  await registry.registerDataset({
    id: datasetId,
    source: 'weatherAUS.csv',
    sourceSha256: SHA_A,
    rows: { raw: 10, rejected: 0, dropped: 1, train: 7, test: 2 },
    split: { testSize: 0.2, seed: 42 },
    manifestSha256: SHA_B,
    uri: `file:///store/datasets/${datasetId}`,
  });
  return { runId: run.id, datasetId };
}

const require = createRequire(import.meta.url);
const REGISTRY_ENTRY = pathToFileURL(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/registry/index.ts'),
).href;

/** Whether child processes can load the TypeScript sources (through tsx). */
export const canSpawnTs: boolean = (() => {
  try {
    require.resolve('tsx');
    return true;
  } catch {
    // tsx is not installed: multi-process tests are skipped
    return false;
  }
})();

/** Workers sleep until a shared start time so that their transactions really overlap. */
const WAIT_UNTIL = `function waitUntil(t) {
  const ms = t - Date.now();
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}`;

/**
 * Runs `body` (ESM TypeScript with top-level await, with `openRegistry`, `waitUntil(epochMs)` and `argv`, the extra arguments, in scope) in `count`
 * separate node processes at once; resolves with each process's stdout.
 */
export async function runInProcesses(body: string, argsFor: (i: number) => string[], count: number): Promise<string[]> {
  const dir = tempDir();
  const script = path.join(dir, 'worker.mts');
  fs.writeFileSync(
    script,
    `import { openRegistry } from ${JSON.stringify(REGISTRY_ENTRY)};\nconst argv = process.argv.slice(2);\n${WAIT_UNTIL}\n${body}\n`,
  );
  const cwd = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const runs = Array.from(
    { length: count },
    (_, i) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', script, ...argsFor(i)], { cwd });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => {
          if (code === 0) return resolve(out);
          // stack lines of the child would make vitest look for source maps of deleted files
          const reason = err
            .split('\n')
            .filter((line) => !/^\s+at /.test(line))
            .join('\n');
          reject(new Error(`worker ${i} exited ${code}: ${reason}`));
        });
      }),
  );
  return Promise.all(runs);
}
