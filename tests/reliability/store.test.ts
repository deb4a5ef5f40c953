import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/context.js';
import { loadDatasetMatrices, loadRawTest } from '../../src/core/dataset/load.js';
import { etl } from '../../src/core/etl.js';
import type { EtlOptions, EtlResult } from '../../src/core/etl.js';
import { sha256 } from '../../src/core/hash.js';
import { loadPredictor } from '../../src/core/registration.js';
import { createFileStore } from '../../src/core/store/file-store.js';
import type { ArtifactStore } from '../../src/core/store/types.js';
import { openRegistry } from '../../src/registry/index.js';
import { cli, tempDir, WEATHER_CSV, weatherCsvText } from '../helpers/cli.js';
import { waitFor } from '../helpers/registry.js';
import { spawnCli } from '../helpers/spawn.js';

const MODEL = 'Rain_dataset_model_prod';
const GRID = { learningRate: [0.3], maxDepth: [2], nEstimators: [10] };

/** Every 48th row of weatherAUS (about 3,000 rows from every station): a data set that trains in seconds. */
function smallCsv(dir: string): string {
  const p = join(dir, 'small.csv');
  const lines = weatherCsvText().split('\n');
  writeFileSync(p, `${lines.filter((l, i) => i === 0 || (i % 48 === 0 && l !== '')).join('\n')}\n`);
  return p;
}

function optimizeArgs(dir: string): string[] {
  const grid = join(dir, 'grid.json');
  writeFileSync(grid, JSON.stringify(GRID));
  return ['optimize', '--grid', grid, '--cv', '2', '--engine', 'wasm', '--jobs', '1', '--json'];
}

/** Files under a folder, relative, with the sha256 of each: a fingerprint that shows any change. */
function fingerprint(root: string): Record<string, string> {
  if (!existsSync(root)) return {};
  const out: Record<string, string> = {};
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile())
      out[join(e.parentPath, e.name).slice(root.length + 1)] = sha256(readFileSync(join(e.parentPath, e.name)));
  }
  return out;
}

const filesUnder = (dir: string) =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length : 0;

describe('writes never destroy what another run owns', () => {
  it('two overlapping etl runs of one source, the later failing on a full disk: the first data set stays whole and trains', async () => {
    const dir = tempDir();
    const home = join(dir, '.rainops');
    const source = smallCsv(dir);
    const opts: EtlOptions = { source, testSize: 0.2, seed: 42, split: 'stratified', strict: false };
    const fileStore = createFileStore(join(home, 'store'));

    // The choreography: B starts writing before A publishes; B's disk fills up only once A has registered.
    let bWriting!: () => void;
    const bStarted = new Promise<void>((r) => (bWriting = r));
    let first!: Promise<EtlResult>;
    const storeA: ArtifactStore = { ...fileStore, publish: async (...a) => (await bStarted, fileStore.publish(...a)) };
    // Every write of B counts, whether a body (put) or a file written beside the store first (putFile).
    let puts = 0;
    const write = async (key: string) => {
      if (++puts === 1) bWriting();
      if (puts === 3) {
        await first;
        throw Object.assign(new Error(`ENOSPC: no space left on device, write '${key}'`), { code: 'ENOSPC' });
      }
    };
    const storeB: ArtifactStore = {
      ...fileStore,
      put: async (key, body) => (await write(key), fileStore.put(key, body)),
      putFile: async (key, path) => (await write(key), fileStore.putFile(key, path)),
    };
    const registryA = await openRegistry(join(home, 'registry.db'));
    const registryB = await openRegistry(join(home, 'registry.db'));
    try {
      first = etl(opts, { registry: registryA, store: storeA, logger: silentLogger, home });
      const second = etl(opts, { registry: registryB, store: storeB, logger: silentLogger, home });
      const [a, b] = await Promise.allSettled([first, second]);
      expect(b.status).toBe('rejected');
      expect((b as PromiseRejectedResult).reason.message).toMatch(/^ENOSPC/);
      expect(a.status).toBe('fulfilled');
      const { datasetId, reused, rows } = (a as PromiseFulfilledResult<EtlResult>).value;
      expect(reused).toBe(false);

      // Registered, whole, and the manifest on disk is the one registered.
      const registered = await registryA.getDataset(datasetId);
      expect(sha256(readFileSync(join(home, 'store/datasets', datasetId, 'manifest.json')))).toBe(
        registered.manifestSha256,
      );
      const m = await loadDatasetMatrices(fileStore, datasetId);
      expect([m.Xtrain.rows, m.Xtest.rows]).toEqual([rows.train, rows.test]);
      // The failed run removed its own staging and nothing else.
      expect(filesUnder(join(home, 'store/staging'))).toBe(0);
    } finally {
      await registryA.close();
      await registryB.close();
    }

    const again = await cli(['etl', '--source', source, '--json'], {}, dir);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).reused).toBe(true);
    const opt = await cli(optimizeArgs(dir), {}, dir);
    expect(opt.stderr).not.toMatch(/\n\s+at /);
    expect(opt.code).toBe(0);
    expect(JSON.parse(opt.stdout)).toMatchObject({ model: MODEL, version: 1, alias: 'prod_best' });
  });

  it('two etl processes of one source at once: one writes, one reuses, and the registered manifest is the one on disk', async () => {
    const dir = tempDir();
    const source = smallCsv(dir);
    // The registry exists first, as after any earlier command, so both processes start on equal terms.
    expect((await cli(['runs', 'list'], {}, dir)).code).toBe(0);
    const runs = [
      spawnCli(['etl', '--source', source, '--json'], dir),
      spawnCli(['etl', '--source', source, '--json'], dir),
    ];
    const done = await Promise.all(runs.map((r) => r.done));
    expect(done.map((d) => d.code)).toEqual([0, 0]);
    expect(done.map((d) => (JSON.parse(d.stdout) as { reused: boolean }).reused).sort()).toEqual([false, true]);
    const registry = await openRegistry(join(dir, '.rainops/registry.db'));
    try {
      const list = await registry.listDatasets();
      expect(list).toHaveLength(1);
      expect(sha256(readFileSync(join(dir, '.rainops/store/datasets', list[0]!.id, 'manifest.json')))).toBe(
        list[0]!.manifestSha256,
      );
    } finally {
      await registry.close();
    }
    expect(filesUnder(join(dir, '.rainops/store/staging'))).toBe(0);
  });

  it('kill -9 while etl writes leaves only its staging, which gc removes; nothing half-written is published', async () => {
    const dir = tempDir();
    const staging = join(dir, '.rainops/store/staging');
    const victim = spawnCli(['etl', '--source', WEATHER_CSV], dir);
    await waitFor(() => filesUnder(staging) > 0, 60_000);
    victim.child.kill('SIGKILL');
    await victim.done;
    expect(filesUnder(join(dir, '.rainops/store/datasets'))).toBe(0);
    const dry = await cli(['gc', '--dry-run', '--grace', '0', '--json'], {}, dir);
    expect(dry.code).toBe(0);
    const listed = JSON.parse(dry.stdout) as { removed: Array<{ kind: string; prefix: string; reason: string }> };
    expect(listed.removed).toEqual([
      expect.objectContaining({
        kind: 'staging',
        reason: expect.stringMatching(/^staging of run [0-9a-f]{32} \(FAILED\), never published$/),
      }),
    ]);
    expect(filesUnder(staging)).toBeGreaterThan(0);
    const real = await cli(['gc', '--grace', '0', '--json'], {}, dir);
    expect(JSON.parse(real.stdout).removed.map((i: { prefix: string }) => i.prefix)).toEqual(
      listed.removed.map((i) => i.prefix),
    );
    expect(filesUnder(staging)).toBe(0);
    expect((await cli(['etl', '--source', WEATHER_CSV], {}, dir)).code).toBe(0);
  });
});

describe('a store knows its registry', () => {
  it("a second home on the same store: its first optimize and etl stop with a clear message, and the first home's production model still loads", async () => {
    const one = tempDir();
    const source = smallCsv(one);
    expect((await cli(['etl', '--source', source], {}, one)).code).toBe(0);
    expect((await cli(optimizeArgs(one), {}, one)).code).toBe(0);
    const storeDir = join(one, '.rainops/store');
    const before = fingerprint(storeDir);
    const ownerId = JSON.parse(readFileSync(join(storeDir, 'rainops-store.json'), 'utf8')).registry_id as string;

    const two = tempDir();
    const shared = { RAINOPS_STORE: `file://${storeDir}` };
    for (const args of [optimizeArgs(two), ['etl', '--source', source], ['pipeline', '--source', source]]) {
      const r = await cli(args, shared, two);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(
        new RegExp(
          `^rainops: store file://${storeDir} belongs to registry ${ownerId} \\(${one}/\\.rainops/registry\\.db on .+\\), not to this registry .*; point --home or RAINOPS_HOME at the registry that owns the store.*'rainops store adopt'$`,
        ),
      );
    }
    expect(fingerprint(storeDir)).toEqual(before);

    const registry = await openRegistry(join(one, '.rainops/registry.db'));
    try {
      const predictor = await loadPredictor(registry, createFileStore(storeDir), MODEL, 'prod_best');
      expect(predictor.version).toBe(1);
      const { rows } = await loadRawTest(createFileStore(storeDir), (await registry.listDatasets())[0]!.id);
      expect([...predictor.probabilities(rows)].every((p) => p >= 0 && p <= 1)).toBe(true);
    } finally {
      await registry.close();
    }
    // The way forward the message names works: the owner's home writes as before.
    const owner = await cli(optimizeArgs(two), { ...shared, RAINOPS_HOME: join(one, '.rainops') }, two);
    expect(owner.code).toBe(0);
    expect(JSON.parse(owner.stdout).version).toBe(2);
  });

  it('a zero-byte registry.db is an error, not a new registry that overwrites the production bundle', async () => {
    const one = tempDir();
    expect((await cli(['etl', '--source', smallCsv(one)], {}, one)).code).toBe(0);
    expect((await cli(optimizeArgs(one), {}, one)).code).toBe(0);
    const copy = tempDir();
    cpSync(join(one, '.rainops'), join(copy, '.rainops'), { recursive: true });
    copyFileSync(join(one, 'grid.json'), join(copy, 'grid.json'));
    truncateSync(join(copy, '.rainops/registry.db'), 0);
    const before = fingerprint(join(copy, '.rainops/store'));
    for (const args of [optimizeArgs(copy), ['models', 'list']]) {
      const r = await cli(args, {}, copy);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `rainops: registry.db is empty (0 bytes): ${copy}/.rainops/registry.db holds no registry, so it was truncated or never finished; restore it from a backup, or remove it to start a new registry\n`,
      );
    }
    expect(readFileSync(join(copy, '.rainops/registry.db')).length).toBe(0);
    expect(fingerprint(join(copy, '.rainops/store'))).toEqual(before);
  });
});
