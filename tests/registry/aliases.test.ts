import { expect, it } from 'vitest';
import { ConflictError, NotFoundError, UsageError } from '../../src/core/errors.js';
import type { Registry } from '../../src/registry/index.js';
import { SHA_A, canSpawnTs, fakeClock, open, runInProcesses, seedRunAndDataset } from './helpers.js';
import { describeBackends } from './backends.js';

const M = 'Rain_dataset_model_prod';

async function withVersions(registry: Registry, count: number): Promise<void> {
  const ids = await seedRunAndDataset(registry);
  for (let i = 0; i < count; i++) {
    await registry.createModelVersion({
      model: M,
      ...ids,
      bundleUri: `file:///m/${i + 1}`,
      bundleSha256: SHA_A,
      engine: 'wasm',
      params: {},
      metrics: { test_f1: 0.6 + i / 100 },
    });
  }
}

const who = { actor: 'optimize', reason: 'better test f1' };

describeBackends('aliases', (backend) => {
  it('point at a version and show up on the version and the model', async () => {
    const registry = await open(await backend.fresh());
    await withVersions(registry, 2);
    expect(await registry.getAlias(M, 'prod_best')).toBeNull();
    const change = await registry.setAlias({ model: M, alias: 'prod_best', version: 1, expected: null, ...who });
    expect(change).toEqual({ model: M, alias: 'prod_best', fromVersion: null, toVersion: 1, changed: true });
    await registry.setAlias({ model: M, alias: 'challenger', version: 2, ...who });
    expect(await registry.getAlias(M, 'prod_best')).toBe(1);
    expect((await registry.getModelVersion(M, 1)).aliases).toEqual(['prod_best']);
    expect((await registry.getModelVersionByAlias(M, 'challenger'))?.version).toBe(2);
    expect(await registry.getModelVersionByAlias(M, 'nope')).toBeNull();
    expect((await registry.listModels())[0]?.aliases).toEqual({ challenger: 2, prod_best: 1 });
  });

  it('refuse a move when the alias changed since the caller looked, and change nothing', async () => {
    const registry = await open(await backend.fresh());
    await withVersions(registry, 3);
    await registry.setAlias({ model: M, alias: 'prod_best', version: 3, ...who });
    const before = await registry.aliasHistory(M, 'prod_best');

    const attempt = () => registry.setAlias({ model: M, alias: 'prod_best', version: 1, expected: 2, ...who });
    await expect(attempt()).rejects.toThrow(ConflictError);
    await expect(attempt()).rejects.toThrow(
      `alias prod_best of ${M} moved from v2 to v3 while this ran; nothing was promoted`,
    );
    await expect(
      registry.setAlias({ model: M, alias: 'prod_best', version: 1, expected: null, ...who }),
    ).rejects.toThrow(`alias prod_best of ${M} was set to v3 while this ran; nothing was promoted`);
    await expect(registry.setAlias({ model: M, alias: 'fresh', version: 1, expected: 2, ...who })).rejects.toThrow(
      `alias fresh of ${M} was removed (it pointed at v2) while this ran; nothing was promoted`,
    );
    expect(await registry.getAlias(M, 'prod_best')).toBe(3);
    expect(await registry.getAlias(M, 'fresh')).toBeNull();
    expect(await registry.aliasHistory(M, 'prod_best')).toEqual(before);

    // no expectation at all: an unconditional move
    expect((await registry.setAlias({ model: M, alias: 'prod_best', version: 1, ...who })).fromVersion).toBe(3);
  });

  it('let only one of two registries on the same file win a race', async () => {
    const file = await backend.fresh();
    const a = await open(file);
    const b = await open(file);
    await withVersions(a, 3);
    await a.setAlias({ model: M, alias: 'prod_best', version: 1, ...who });

    const seenByA = await a.getAlias(M, 'prod_best');
    const seenByB = await b.getAlias(M, 'prod_best');
    await b.setAlias({ model: M, alias: 'prod_best', version: 3, expected: seenByB, actor: 'b', reason: 'b won' });
    await expect(
      a.setAlias({ model: M, alias: 'prod_best', version: 2, expected: seenByA, actor: 'a', reason: 'a lost' }),
    ).rejects.toThrow(ConflictError);
    expect(await a.getAlias(M, 'prod_best')).toBe(3);
    expect((await a.aliasHistory(M, 'prod_best')).map((h) => h.actor)).toEqual(['optimize', 'b']);
  });

  it.skipIf(!canSpawnTs)('let exactly one of several processes win the same compare-and-set', async () => {
    const file = await backend.fresh();
    await withVersions(await open(file), 5);
    await (await open(file)).setAlias({ model: M, alias: 'prod_best', version: 1, ...who });
    const body = `
      const [file, version, startAt] = argv;
      const registry = await openRegistry(file);
      waitUntil(Number(startAt));
      let result = 'won';
      try {
        await registry.setAlias({ model: '${M}', alias: 'prod_best', version: Number(version), expected: 1, actor: 'p' + version, reason: 'race' });
      } catch (err) {
        result = err.name;
      }
      await registry.close();
      process.stdout.write(result);`;
    const startAt = String(Date.now() + 3000);
    const results = await runInProcesses(body, (i) => [file, String(i + 2), startAt], 4);
    expect(results.filter((r) => r === 'won')).toHaveLength(1);
    expect(results.filter((r) => r === 'ConflictError')).toHaveLength(3);
    const history = await (await open(file)).aliasHistory(M, 'prod_best');
    expect(history).toHaveLength(2);
    expect(history[1]?.fromVersion).toBe(1);
  });

  it('skip moves to the current target without writing history', async () => {
    const registry = await open(await backend.fresh());
    await withVersions(registry, 1);
    await registry.setAlias({ model: M, alias: 'prod_best', version: 1, ...who });
    const again = await registry.setAlias({ model: M, alias: 'prod_best', version: 1, expected: 1, ...who });
    expect(again).toEqual({ model: M, alias: 'prod_best', fromVersion: 1, toVersion: 1, changed: false });
    expect(await registry.aliasHistory(M, 'prod_best')).toHaveLength(1);
  });

  it('refuse unknown models, versions and bad names', async () => {
    const registry = await open(await backend.fresh());
    await withVersions(registry, 1);
    await expect(registry.setAlias({ model: 'nope', alias: 'prod_best', version: 1, ...who })).rejects.toThrow(
      NotFoundError,
    );
    await expect(registry.setAlias({ model: M, alias: 'prod_best', version: 9, ...who })).rejects.toThrow(
      `model ${M} has no version 9; list its versions with 'rainops models show ${M}'`,
    );
    await expect(registry.setAlias({ model: M, alias: 'prod best', version: 1, ...who })).rejects.toThrow(UsageError);
    await expect(
      registry.setAlias({ model: M, alias: 'prod_best', version: 1, actor: '', reason: 'x' }),
    ).rejects.toThrow(UsageError);
    expect(await registry.aliasHistory(M)).toEqual([]);
  });

  it('delete with the same checks, recorded in the history', async () => {
    const registry = await open(await backend.fresh());
    await withVersions(registry, 2);
    await registry.setAlias({ model: M, alias: 'challenger', version: 2, ...who });
    await expect(
      registry.deleteAlias({ model: M, alias: 'challenger', expected: 1, actor: 'retrain', reason: 'x' }),
    ).rejects.toThrow(`alias challenger of ${M} moved from v1 to v2 while this ran; nothing was removed`);
    expect(
      await registry.deleteAlias({ model: M, alias: 'challenger', expected: 2, actor: 'retrain', reason: 'lost' }),
    ).toEqual({
      model: M,
      alias: 'challenger',
      fromVersion: 2,
      toVersion: null,
      changed: true,
    });
    expect(await registry.getAlias(M, 'challenger')).toBeNull();
    await expect(registry.deleteAlias({ model: M, alias: 'challenger', actor: 'x', reason: 'y' })).rejects.toThrow(
      NotFoundError,
    );
    expect((await registry.aliasHistory(M, 'challenger')).map((h) => [h.fromVersion, h.toVersion])).toEqual([
      [null, 2],
      [2, null],
    ]);
  });

  it('keep an append-only history, oldest first, and know the target before the latest move', async () => {
    const clock = fakeClock();
    const file = await backend.fresh();
    const registry = await open(file, { now: clock.now });
    await withVersions(registry, 3);
    expect(await registry.previousAliasTarget(M, 'prod_best')).toBeNull();
    await registry.setAlias({
      model: M,
      alias: 'prod_best',
      version: 1,
      expected: null,
      actor: 'optimize',
      reason: 'first model',
    });
    expect(await registry.previousAliasTarget(M, 'prod_best')).toBeNull();
    clock.advance(1000);
    await registry.setAlias({
      model: M,
      alias: 'prod_best',
      version: 2,
      expected: 1,
      actor: 'retrain',
      reason: 'challenger won',
    });
    clock.advance(1000);
    await registry.setAlias({
      model: M,
      alias: 'prod_best',
      version: 3,
      expected: 2,
      actor: 'alice',
      reason: 'manual promote',
    });
    await registry.setAlias({ model: M, alias: 'challenger', version: 1, actor: 'retrain', reason: 'other alias' });
    expect(await registry.previousAliasTarget(M, 'prod_best')).toBe(2);

    const history = await registry.aliasHistory(M, 'prod_best');
    expect(
      history.map(({ fromVersion, toVersion, actor, reason, time }) => ({
        fromVersion,
        toVersion,
        actor,
        reason,
        time,
      })),
    ).toEqual([
      { fromVersion: null, toVersion: 1, actor: 'optimize', reason: 'first model', time: '2024-03-01T00:00:00.000Z' },
      { fromVersion: 1, toVersion: 2, actor: 'retrain', reason: 'challenger won', time: '2024-03-01T00:00:01.000Z' },
      { fromVersion: 2, toVersion: 3, actor: 'alice', reason: 'manual promote', time: '2024-03-01T00:00:02.000Z' },
    ]);
    expect(await registry.aliasHistory(M)).toHaveLength(4);

    // a rollback is itself a move, so the target before it is the version rolled back from
    await registry.setAlias({
      model: M,
      alias: 'prod_best',
      version: 2,
      expected: 3,
      actor: 'rollback',
      reason: 'bad deploy',
    });
    expect(await registry.previousAliasTarget(M, 'prod_best')).toBe(3);
    expect((await registry.aliasHistory(M, 'prod_best')).slice(0, 3)).toEqual(history);

    await expect(backend.exec(file, "UPDATE alias_history SET actor = 'mallory'")).rejects.toThrow(/append-only/);
    await expect(backend.exec(file, 'DELETE FROM alias_history')).rejects.toThrow(/append-only/);
  });
});
