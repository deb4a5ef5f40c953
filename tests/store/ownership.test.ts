import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.js';
import type { InputsPipeline } from '../../src/core/features/pipeline.js';
import { loadVersion, promote, registerVersion } from '../../src/core/registration.js';
import type { NewVersion } from '../../src/core/registration.js';
import { createMemoryStore } from '../../src/core/store/memory-store.js';
import { adoptStore, ensureOwner, guardWrites, once, OWNER_KEY, readOwner } from '../../src/core/store/owner.js';
import type { ArtifactStore } from '../../src/core/store/types.js';
import { openRegistry } from '../../src/registry/index.js';
import type { Registry } from '../../src/registry/index.js';
import { cli, tempDir } from '../helpers/cli.js';
import { open, SHA_A, seedRunAndDataset, tempDbPath } from '../registry/helpers.js';
import { ONE_LEAF } from '../helpers/trees.js';

const claimant = (registry: Registry) => ({
  registry,
  hostname: 'test-host',
  now: () => new Date('2026-01-02T03:04:05Z'),
});

function newVersion(ids: { runId: string; datasetId: string }, model = 'M'): NewVersion {
  return {
    model,
    runId: ids.runId,
    datasetId: ids.datasetId,
    kind: 'xgboost',
    trees: ONE_LEAF,
    pipeline: {} as InputsPipeline,
    engineModel: null,
    threshold: 0.5,
    params: {},
    metrics: { test_f1: 0.5 },
    engine: 'wasm',
    libraries: {},
    createdAt: new Date('2026-01-02T03:04:05Z'),
  };
}

describe('store ownership', () => {
  it('is claimed by the first registry that writes, and a second registry is stopped with a way forward', async () => {
    const store = createMemoryStore();
    const first = await open(tempDbPath());
    const second = await open(tempDbPath());
    await ensureOwner(store, claimant(first));
    expect(await readOwner(store)).toEqual({
      format: 1,
      registry_id: await first.registryId(),
      registry: first.file,
      hostname: 'test-host',
      claimed_at: '2026-01-02T03:04:05.000Z',
    });
    await ensureOwner(store, claimant(first));
    const err = await ensureOwner(store, claimant(second)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toBe(
      `store memory:// belongs to registry ${await first.registryId()} (${first.file} on test-host), not to this registry (${second.file}, id ${await second.registryId()}), ` +
        "so writing to it could overwrite that registry's data sets and model bundles; point --home or RAINOPS_HOME at the registry that owns the store, " +
        "or give this registry a store of its own with --store or RAINOPS_STORE; if that registry is gone for good, make this one the owner with 'rainops store adopt'",
    );
  });

  it('is not claimed by a registry that does not know the data sets and bundles an unowned store holds', async () => {
    const store = createMemoryStore();
    await store.put('datasets/abc/manifest.json', '{}');
    await store.put('models/M/1/metadata.json', JSON.stringify({ runId: 'f'.repeat(32) }));
    // Half-written sets are not anyone's data: gc removes them, and they do not block a claim.
    await store.put('datasets/half/raw.csv', 'x');
    const registry = await open(tempDbPath());
    await expect(ensureOwner(store, claimant(registry))).rejects.toThrow(
      /records no owner but holds 2 data set\(s\) or model bundle\(s\) that this registry .* does not know \(datasets\/abc, models\/M\/1\): another registry wrote them; point --home/,
    );
    expect(await store.exists(OWNER_KEY)).toBe(false);
  });

  it('is claimed, on upgrade, by the registry that knows everything the store holds', async () => {
    const store = createMemoryStore();
    const registry = await open(tempDbPath());
    const ids = await seedRunAndDataset(registry, 'known-ds');
    await store.put('datasets/known-ds/manifest.json', '{}');
    // An unregistered bundle written by one of this registry's runs is its own leftover, not another registry's.
    await store.put('models/M/9/metadata.json', JSON.stringify({ runId: ids.runId }));
    await ensureOwner(store, claimant(registry));
    expect((await readOwner(store))?.registry_id).toBe(await registry.registryId());
  });

  it('moves to another registry with adopt, which records the previous owner', async () => {
    const store = createMemoryStore();
    const first = await open(tempDbPath());
    const second = await open(tempDbPath());
    const ids = await seedRunAndDataset(first);
    await store.put(`datasets/${ids.datasetId}/manifest.json`, '{}');
    await ensureOwner(store, claimant(first));
    const r = await adoptStore(store, claimant(second));
    expect(r.previous?.registry_id).toBe(await first.registryId());
    expect(r.owner).toMatchObject({ registry_id: await second.registryId(), adopted_from: await first.registryId() });
    expect(r.foreign).toEqual([`datasets/${ids.datasetId}`]);
    await ensureOwner(store, claimant(second));
    await expect(ensureOwner(store, claimant(first))).rejects.toBeInstanceOf(ConflictError);
  });

  it('guards every write but no read, checking once', async () => {
    const inner = createMemoryStore();
    await inner.put('k', 'v');
    let checks = 0;
    const store = guardWrites(
      inner,
      once(async () => {
        checks++;
        throw new ConflictError('not yours');
      }),
    );
    expect((await store.get('k')).toString()).toBe('v');
    expect(await store.list('')).toEqual(['k']);
    await expect(store.put('a', '1')).rejects.toThrow('not yours');
    await expect(store.putIfAbsent('a', '1')).rejects.toThrow('not yours');
    await expect(store.publish('s', 'f', 'm')).rejects.toThrow('not yours');
    await expect(store.removePrefix('k')).rejects.toThrow('not yours');
    expect(await inner.list('')).toEqual(['k']);
    expect(checks).toBe(1);
  });
});

describe('registering a model version', () => {
  async function setup(): Promise<{
    registry: Registry;
    store: ArtifactStore;
    ids: { runId: string; datasetId: string };
  }> {
    const registry = await open(tempDbPath());
    return { registry, store: createMemoryStore(), ids: await seedRunAndDataset(registry) };
  }

  it('publishes the bundle at models/<model>/<version>/ and leaves no staging', async () => {
    const { registry, store, ids } = await setup();
    expect(await registerVersion(registry, store, newVersion(ids))).toEqual({
      version: 1,
      uri: 'memory:///models/M/1',
    });
    expect(await store.list('staging/')).toEqual([]);
    expect((await loadVersion(registry, store, 'M', 1)).metadata.runId).toBe(ids.runId);
  });

  it('stops with a ConflictError naming the bundle another registry left at the next version, and overwrites nothing', async () => {
    const { registry, store, ids } = await setup();
    const foreign = JSON.stringify({ runId: 'e'.repeat(32), model: 'M', version: 1 });
    await store.put('models/M/1/metadata.json', foreign);
    await store.put('models/M/1/trees.json', 'their trees');
    const err = await registerVersion(registry, store, newVersion(ids)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toMatch(
      /^the store already holds a bundle at memory:\/\/\/models\/M\/1: another registry uses this store .* nothing was overwritten/,
    );
    expect((await store.get('models/M/1/metadata.json')).toString()).toBe(foreign);
    expect((await store.get('models/M/1/trees.json')).toString()).toBe('their trees');
    expect(await store.list('staging/')).toEqual([]);
    expect(await registry.listModels()).toEqual([]);
  });

  it('replaces its own leftovers: an unpublished bundle, or one of a run of this registry that failed before registering it', async () => {
    const { registry, store, ids } = await setup();
    await store.put('models/M/1/trees.json', 'never published');
    expect((await registerVersion(registry, store, newVersion(ids))).version).toBe(1);
    const dead = await registry.startRun({ experiment: 'Rain Dataset', name: 'optimize' });
    await registry.finishRun(dead.id, { status: 'FAILED', error: 'killed' });
    await store.put('models/M/2/metadata.json', JSON.stringify({ runId: dead.id }));
    expect((await registerVersion(registry, store, newVersion(ids))).version).toBe(2);
    expect((await loadVersion(registry, store, 'M', 2)).metadata.runId).toBe(ids.runId);
  });

  it('removes the bundle it published when the registry refuses the version', async () => {
    const { registry, store, ids } = await setup();
    await expect(
      registerVersion(registry, store, { ...newVersion(ids), datasetId: 'no-such-data-set' }),
    ).rejects.toThrow();
    expect(await store.list('')).toEqual([]);
  });
});

describe('a version whose run failed after registering it', () => {
  it('is never promoted implicitly, whatever the policy', async () => {
    const registry = await open(tempDbPath());
    const store = createMemoryStore();
    const ids = await seedRunAndDataset(registry);
    await registerVersion(registry, store, newVersion(ids));
    await registry.finishRun(ids.runId, { status: 'FAILED', error: 'killed after registering' });
    for (const policy of ['always', 'if-better'] as const) {
      const d = await promote(registry, store, {
        model: 'M',
        version: 1,
        datasetId: ids.datasetId,
        policy,
        expected: null,
        actor: 'test',
      });
      expect(d.alias).toBeNull();
      expect(d.reason).toBe(
        `v1's run ${ids.runId} FAILED, and a version of a failed run is never promoted implicitly; check it, then promote it by hand with 'rainops promote M 1' if it is sound`,
      );
    }
    expect(await registry.getAlias('M', 'prod_best')).toBeNull();
  });

  it("shows as 'run failed' in models show", async () => {
    const dir = tempDir();
    const registry = await openRegistry(join(dir, '.rainops/registry.db'));
    const ids = await seedRunAndDataset(registry);
    const ok = await registry.startRun({ experiment: 'Rain Dataset', name: 'optimize' });
    const version = {
      model: 'M',
      datasetId: ids.datasetId,
      bundleUri: 'memory:///models/M',
      bundleSha256: SHA_A,
      engine: 'wasm',
      params: {},
      metrics: {},
    };
    await registry.createModelVersion({ ...version, runId: ids.runId });
    await registry.createModelVersion({ ...version, runId: ok.id });
    await registry.finishRun(ids.runId, { status: 'FAILED', error: 'died' });
    await registry.finishRun(ok.id, { status: 'FINISHED' });
    await registry.close();
    const text = await cli(['models', 'show', 'M'], {}, dir);
    expect(
      text.stdout
        .split('\n')
        .filter((l) => /^\s+[12] /.test(l))
        .map((l) =>
          l
            .trim()
            .split(/\s{2,}/)
            .slice(0, 2),
        ),
    ).toEqual([
      ['2', 'ready'],
      ['1', 'run failed'],
    ]);
    const again = await openRegistry(join(dir, '.rainops/registry.db'));
    expect((await again.listModelVersions('M')).map((v) => [v.version, v.runStatus])).toEqual([
      [2, 'FINISHED'],
      [1, 'FAILED'],
    ]);
    await again.close();
  });
});

describe('rainops store show and adopt', () => {
  it('show the owner, and hand the store to another registry explicitly', async () => {
    const one = tempDir();
    const two = tempDir();
    const store = { RAINOPS_STORE: `file://${join(one, 'shared-store')}` };
    const show = async (dir: string) =>
      JSON.parse((await cli(['store', 'show', '--json'], store, dir)).stdout) as {
        registry_id: string;
        owned: boolean;
        owner: { registry_id: string } | null;
      };
    expect(await show(one)).toMatchObject({ owner: null, owned: false });
    // Any writing command claims an unowned store; gc is the quickest.
    expect((await cli(['gc'], store, one)).code).toBe(0);
    const first = await show(one);
    expect(first).toMatchObject({ owned: true, owner: { registry_id: first.registry_id } });
    expect(await show(two)).toMatchObject({ owned: false, owner: { registry_id: first.registry_id } });
    const refused = await cli(['gc'], store, two);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/belongs to registry [0-9a-f]{32} .*'rainops store adopt'\n$/);

    const adopt = await cli(['store', 'adopt', '--json'], store, two);
    expect(adopt.code).toBe(0);
    const second = await show(two);
    expect(JSON.parse(adopt.stdout)).toMatchObject({
      owner: { registry_id: second.registry_id, adopted_from: first.registry_id },
      previous_owner: { registry_id: first.registry_id },
    });
    expect(second.owned).toBe(true);
    expect((await cli(['gc'], store, two)).code).toBe(0);
    expect((await cli(['gc'], store, one)).code).toBe(1);
  });
});
