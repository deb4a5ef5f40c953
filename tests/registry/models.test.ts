import { expect, it } from 'vitest';
import { NotFoundError, UsageError } from '../../src/core/errors.js';
import type { Registry } from '../../src/registry/index.js';
import { SHA_A, canSpawnTs, fakeClock, open, runInProcesses, seedRunAndDataset } from './helpers.js';
import { describeBackends } from './backends.js';

const MODEL = 'Rain_dataset_model_prod';

function addVersion(registry: Registry, ids: { runId: string; datasetId: string }, model = MODEL, f1 = 0.69) {
  return registry.createModelVersion({
    model,
    runId: ids.runId,
    datasetId: ids.datasetId,
    bundleUri: `file:///store/models/${model}/next`,
    bundleSha256: SHA_A,
    engine: 'wasm',
    params: { max_depth: 6, eta: 0.3, nested: { a: [1, 2] } },
    metrics: { test_f1: f1, test_roc_auc: 0.907 },
  });
}

describeBackends('model versions', (backend) => {
  it('number 1, 2, 3 per model, creating the model on first use', async () => {
    const clock = fakeClock();
    const registry = await open(await backend.fresh(), { now: clock.now });
    const ids = await seedRunAndDataset(registry);
    expect(await registry.listModels()).toEqual([]);
    expect(await addVersion(registry, ids)).toEqual({ model: MODEL, version: 1 });
    expect(await addVersion(registry, ids)).toEqual({ model: MODEL, version: 2 });
    expect(await addVersion(registry, ids, 'other_model')).toEqual({ model: 'other_model', version: 1 });
    expect(await addVersion(registry, ids)).toEqual({ model: MODEL, version: 3 });

    expect(await registry.getModelVersion(MODEL, 2)).toEqual({
      model: MODEL,
      version: 2,
      runId: ids.runId,
      datasetId: ids.datasetId,
      bundleUri: `file:///store/models/${MODEL}/next`,
      bundleSha256: SHA_A,
      engine: 'wasm',
      params: { max_depth: 6, eta: 0.3, nested: { a: [1, 2] } },
      metrics: { test_f1: 0.69, test_roc_auc: 0.907 },
      createdAt: '2024-03-01T00:00:00.000Z',
      status: 'READY',
      runStatus: 'RUNNING',
      aliases: [],
    });
    expect((await registry.listModelVersions(MODEL)).map((v) => v.version)).toEqual([3, 2, 1]);
    // A run that registered a version and then failed shows on the version.
    await registry.finishRun(ids.runId, { status: 'FAILED', error: 'died after registering' });
    expect((await registry.listModelVersions(MODEL)).map((v) => v.runStatus)).toEqual(['FAILED', 'FAILED', 'FAILED']);
    expect((await registry.listModels()).map((m) => [m.name, m.latestVersion, m.aliases])).toEqual([
      [MODEL, 3, {}],
      ['other_model', 1, {}],
    ]);
  });

  it('never reuse a number across two registries on one file', async () => {
    const file = await backend.fresh();
    const a = await open(file);
    const b = await open(file);
    const ids = await seedRunAndDataset(a);
    const got = [];
    for (let i = 0; i < 5; i++) {
      got.push((await addVersion(a, ids)).version, (await addVersion(b, ids)).version);
    }
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it.skipIf(!canSpawnTs)('never reuse a number across concurrent processes', async () => {
    const file = await backend.fresh();
    const ids = await seedRunAndDataset(await open(file));
    const body = `
      const [file, runId, datasetId, startAt] = argv;
      const registry = await openRegistry(file);
      waitUntil(Number(startAt));
      const got = [];
      for (let i = 0; i < 200; i++) {
        got.push((await registry.createModelVersion({ model: 'm', runId, datasetId, bundleUri: 'u', bundleSha256: '${SHA_A}',
          engine: 'wasm', params: {}, metrics: {} })).version);
      }
      await registry.close();
      process.stdout.write(JSON.stringify(got));`;
    const startAt = String(Date.now() + 3000);
    const outputs = await runInProcesses(body, () => [file, ids.runId, ids.datasetId, startAt], 4);
    const all = outputs.flatMap((o) => JSON.parse(o) as number[]).sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 800 }, (_, i) => i + 1));
  });

  it('say which model or version is missing', async () => {
    const registry = await open(await backend.fresh());
    const ids = await seedRunAndDataset(registry);
    await addVersion(registry, ids);
    await expect(registry.getModelVersion('nope', 1)).rejects.toThrow(
      "model nope not found; list models with 'rainops models list'",
    );
    await expect(registry.getModelVersion(MODEL, 7)).rejects.toThrow(NotFoundError);
    await expect(registry.getModelVersion(MODEL, 7)).rejects.toThrow(
      `model ${MODEL} has no version 7; list its versions with 'rainops models show ${MODEL}'`,
    );
    await expect(registry.getModelVersion(MODEL, 0)).rejects.toThrow(UsageError);
    await expect(registry.listModelVersions('nope')).rejects.toThrow(NotFoundError);
  });

  it('refuse versions of runs or data sets that do not exist, or with a bad name or hash', async () => {
    const registry = await open(await backend.fresh());
    const ids = await seedRunAndDataset(registry);
    await expect(addVersion(registry, { ...ids, runId: 'f'.repeat(32) })).rejects.toThrow(NotFoundError);
    await expect(addVersion(registry, { ...ids, datasetId: 'missing' })).rejects.toThrow(NotFoundError);
    await expect(addVersion(registry, ids, 'bad/name')).rejects.toThrow(UsageError);
    await expect(
      registry.createModelVersion({
        model: MODEL,
        ...ids,
        bundleUri: 'u',
        bundleSha256: 'x',
        engine: 'wasm',
        params: {},
        metrics: {},
      }),
    ).rejects.toThrow(UsageError);
    // nothing half-written: the failed attempts created no model
    expect(await registry.listModels()).toEqual([]);
    expect((await addVersion(registry, ids)).version).toBe(1);
  });
});
