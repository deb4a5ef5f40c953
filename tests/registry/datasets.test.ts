import { describe, expect, it } from 'vitest';
import { NotFoundError, UsageError } from '../../src/core/errors.js';
import type { DatasetInput } from '../../src/registry/index.js';
import { SHA_A, SHA_B, fakeClock, open, tempDbPath } from './helpers.js';

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

describe('data sets', () => {
  it('register with every field and return the same record when registered again', () => {
    const clock = fakeClock();
    const registry = open(tempDbPath(), { now: clock.now });
    const first = registry.registerDataset(input('ds-20240301-aaaa'));
    expect(first).toEqual({ ...input('ds-20240301-aaaa'), createdAt: '2024-03-01T00:00:00.000Z' });

    clock.advance(60_000);
    const again = registry.registerDataset(
      input('ds-20240301-aaaa', {
        uri: 'file:///elsewhere',
        rows: { raw: 1, rejected: 0, dropped: 0, train: 1, test: 0 },
      }),
    );
    expect(again).toEqual(first);
    expect(registry.listDatasets()).toHaveLength(1);
    expect(registry.getDataset('ds-20240301-aaaa')).toEqual(first);
  });

  it('list newest first and give the newest', () => {
    const clock = fakeClock();
    const registry = open(tempDbPath(), { now: clock.now });
    expect(registry.newestDataset()).toBeNull();
    registry.registerDataset(input('ds-old'));
    clock.advance(1000);
    registry.registerDataset(input('ds-new'));
    registry.registerDataset(input('ds-same-ms'));
    expect(registry.listDatasets().map((d) => d.id)).toEqual(['ds-same-ms', 'ds-new', 'ds-old']);
    expect(registry.newestDataset()?.id).toBe('ds-same-ms');
  });

  it('resolve an id prefix, or say what is wrong', () => {
    const registry = open(tempDbPath());
    registry.registerDataset(input('ds-abc1'));
    registry.registerDataset(input('ds-abd2'));
    expect(registry.getDataset('ds-abc').id).toBe('ds-abc1');
    expect(() => registry.getDataset('ds-ab')).toThrow(UsageError);
    expect(() => registry.getDataset('ds-ab')).toThrow(
      /data set id prefix 'ds-ab' matches 2 data sets \(ds-abc1, ds-abd2\)/,
    );
    expect(() => registry.getDataset('ds-zz')).toThrow(NotFoundError);
    expect(() => registry.getDataset('ds-zz')).toThrow(
      "data set ds-zz not found; list data sets with 'rainops datasets list'",
    );
    // a prefix is plain text, not a LIKE pattern
    expect(() => registry.getDataset('ds-ab_')).toThrow(NotFoundError);
  });

  it('check hashes and counts before storing', () => {
    const registry = open(tempDbPath());
    expect(() => registry.registerDataset(input('x', { manifestSha256: 'abc' }))).toThrow(
      /manifest sha256 of data set x 'abc' is not a sha256/,
    );
    expect(() =>
      registry.registerDataset(input('x', { rows: { raw: -1, rejected: 0, dropped: 0, train: 0, test: 0 } })),
    ).toThrow(UsageError);
    expect(registry.listDatasets()).toEqual([]);
  });

  it('link runs with a role and list them from the data set side', () => {
    const clock = fakeClock();
    const registry = open(tempDbPath(), { now: clock.now });
    registry.registerDataset(input('ds-1'));
    const etl = registry.startRun({ experiment: 'etl', name: 'etl' }).id;
    clock.advance(1000);
    const train = registry.startRun({ experiment: 'Rain Dataset', name: 'optimize' }).id;
    registry.linkRunDataset(etl, 'ds-1', 'output');
    registry.linkRunDataset(train, 'ds-1', 'input');
    registry.linkRunDataset(train, 'ds-1', 'input');
    expect(registry.runsForDataset('ds-1').map((r) => [r.id, r.role])).toEqual([
      [train, 'input'],
      [etl, 'output'],
    ]);
    expect(() => registry.linkRunDataset(train, 'ds-missing', 'input')).toThrow(NotFoundError);
    expect(() => registry.linkRunDataset(train, 'ds-1', 'both' as 'input')).toThrow(UsageError);
    expect(() => registry.runsForDataset('nope')).toThrow(NotFoundError);
  });
});
