import { expect, it } from 'vitest';
import { NotFoundError, UsageError } from '../../src/core/errors.js';
import type { DatasetInput } from '../../src/registry/index.js';
import { SHA_A, SHA_B, fakeClock, open } from './helpers.js';
import { describeBackends } from './backends.js';

function input(id: string, over: Partial<DatasetInput> = {}): DatasetInput {
  return {
    id,
    source: 'https://example.org/weatherAUS.csv',
    sourceSha256: SHA_A,
    rows: { raw: 145460, rejected: 0, dropped: 3267, train: 113754, test: 28439 },
    split: { method: 'stratified', testSize: 0.2, seed: 42 },
    manifestSha256: SHA_B,
    uri: `file:///home/store/datasets/${id}`,
    ...over,
  };
}

describeBackends('data sets', (backend) => {
  it('register with every field and return the same record when registered again', async () => {
    const clock = fakeClock();
    const registry = await open(await backend.fresh(), { now: clock.now });
    const first = await registry.registerDataset(input('ds-20240301-aaaa'));
    expect(first).toEqual({ ...input('ds-20240301-aaaa'), createdAt: '2024-03-01T00:00:00.000Z' });

    clock.advance(60_000);
    const again = await registry.registerDataset(
      input('ds-20240301-aaaa', {
        uri: 'file:///elsewhere',
        rows: { raw: 1, rejected: 0, dropped: 0, train: 1, test: 0 },
      }),
    );
    expect(again).toEqual(first);
    expect(await registry.listDatasets()).toHaveLength(1);
    expect(await registry.getDataset('ds-20240301-aaaa')).toEqual(first);
  });

  it('list newest first and give the newest', async () => {
    const clock = fakeClock();
    const registry = await open(await backend.fresh(), { now: clock.now });
    expect(await registry.newestDataset()).toBeNull();
    await registry.registerDataset(input('ds-old'));
    clock.advance(1000);
    await registry.registerDataset(input('ds-new'));
    await registry.registerDataset(input('ds-same-ms'));
    expect((await registry.listDatasets()).map((d) => d.id)).toEqual(['ds-same-ms', 'ds-new', 'ds-old']);
    expect((await registry.newestDataset())?.id).toBe('ds-same-ms');
  });

  it('resolve an id prefix, or say what is wrong', async () => {
    const registry = await open(await backend.fresh());
    await registry.registerDataset(input('ds-abc1'));
    await registry.registerDataset(input('ds-abd2'));
    expect((await registry.getDataset('ds-abc')).id).toBe('ds-abc1');
    await expect(registry.getDataset('ds-ab')).rejects.toThrow(UsageError);
    await expect(registry.getDataset('ds-ab')).rejects.toThrow(
      /data set id prefix 'ds-ab' matches 2 data sets \(ds-abc1, ds-abd2\)/,
    );
    await expect(registry.getDataset('ds-zz')).rejects.toThrow(NotFoundError);
    await expect(registry.getDataset('ds-zz')).rejects.toThrow(
      "data set ds-zz not found; list data sets with 'rainops datasets list'",
    );
    // a prefix is plain text, not a LIKE pattern
    await expect(registry.getDataset('ds-ab_')).rejects.toThrow(NotFoundError);
  });

  it('check hashes and counts before storing', async () => {
    const registry = await open(await backend.fresh());
    await expect(registry.registerDataset(input('x', { manifestSha256: 'abc' }))).rejects.toThrow(
      /manifest sha256 of data set x 'abc' is not a sha256/,
    );
    await expect(
      registry.registerDataset(input('x', { rows: { raw: -1, rejected: 0, dropped: 0, train: 0, test: 0 } })),
    ).rejects.toThrow(UsageError);
    expect(await registry.listDatasets()).toEqual([]);
  });

  it('link runs with a role and list them from the data set side', async () => {
    const clock = fakeClock();
    const registry = await open(await backend.fresh(), { now: clock.now });
    await registry.registerDataset(input('ds-1'));
    const etl = (await registry.startRun({ experiment: 'etl', name: 'etl' })).id;
    clock.advance(1000);
    const train = (await registry.startRun({ experiment: 'Rain Dataset', name: 'optimize' })).id;
    await registry.linkRunDataset(etl, 'ds-1', 'output');
    await registry.linkRunDataset(train, 'ds-1', 'input');
    await registry.linkRunDataset(train, 'ds-1', 'input');
    expect((await registry.runsForDataset('ds-1')).map((r) => [r.id, r.role])).toEqual([
      [train, 'input'],
      [etl, 'output'],
    ]);
    await expect(registry.linkRunDataset(train, 'ds-missing', 'input')).rejects.toThrow(NotFoundError);
    await expect(registry.linkRunDataset(train, 'ds-1', 'both' as 'input')).rejects.toThrow(UsageError);
    await expect(registry.runsForDataset('nope')).rejects.toThrow(NotFoundError);
  });
});
