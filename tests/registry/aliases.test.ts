import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, UsageError } from '../../src/core/errors.js';
import type { Registry } from '../../src/registry/index.js';
import { SHA_A, canSpawnTs, fakeClock, open, runInProcesses, seedRunAndDataset, tempDbPath } from './helpers.js';

const M = 'Rain_dataset_model_prod';

function withVersions(registry: Registry, count: number): void {
  const ids = seedRunAndDataset(registry);
  for (let i = 0; i < count; i++) {
    registry.createModelVersion({
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

describe('aliases', () => {
  it('point at a version and show up on the version and the model', () => {
    const registry = open(tempDbPath());
    withVersions(registry, 2);
    expect(registry.getAlias(M, 'prod_best')).toBeNull();
    const change = registry.setAlias({ model: M, alias: 'prod_best', version: 1, expected: null, ...who });
    expect(change).toEqual({ model: M, alias: 'prod_best', fromVersion: null, toVersion: 1, changed: true });
    registry.setAlias({ model: M, alias: 'challenger', version: 2, ...who });
    expect(registry.getAlias(M, 'prod_best')).toBe(1);
    expect(registry.getModelVersion(M, 1).aliases).toEqual(['prod_best']);
    expect(registry.getModelVersionByAlias(M, 'challenger')?.version).toBe(2);
    expect(registry.getModelVersionByAlias(M, 'nope')).toBeNull();
    expect(registry.listModels()[0]?.aliases).toEqual({ challenger: 2, prod_best: 1 });
  });

  it('refuse a move when the alias changed since the caller looked, and change nothing', () => {
    const registry = open(tempDbPath());
    withVersions(registry, 3);
    registry.setAlias({ model: M, alias: 'prod_best', version: 3, ...who });
    const before = registry.aliasHistory(M, 'prod_best');

    const attempt = () => registry.setAlias({ model: M, alias: 'prod_best', version: 1, expected: 2, ...who });
    expect(attempt).toThrow(ConflictError);
    expect(attempt).toThrow(`alias prod_best of ${M} moved from v2 to v3 while this ran; nothing was promoted`);
    expect(() => registry.setAlias({ model: M, alias: 'prod_best', version: 1, expected: null, ...who })).toThrow(
      `alias prod_best of ${M} was set to v3 while this ran; nothing was promoted`,
    );
    expect(() => registry.setAlias({ model: M, alias: 'fresh', version: 1, expected: 2, ...who })).toThrow(
      `alias fresh of ${M} was removed (it pointed at v2) while this ran; nothing was promoted`,
    );
    expect(registry.getAlias(M, 'prod_best')).toBe(3);
    expect(registry.getAlias(M, 'fresh')).toBeNull();
    expect(registry.aliasHistory(M, 'prod_best')).toEqual(before);

    // no expectation at all: an unconditional move
    expect(registry.setAlias({ model: M, alias: 'prod_best', version: 1, ...who }).fromVersion).toBe(3);
  });

  it('let only one of two registries on the same file win a race', () => {
    const file = tempDbPath();
    const a = open(file);
    const b = open(file);
    withVersions(a, 3);
    a.setAlias({ model: M, alias: 'prod_best', version: 1, ...who });

    const seenByA = a.getAlias(M, 'prod_best');
    const seenByB = b.getAlias(M, 'prod_best');
    b.setAlias({ model: M, alias: 'prod_best', version: 3, expected: seenByB, actor: 'b', reason: 'b won' });
    expect(() =>
      a.setAlias({ model: M, alias: 'prod_best', version: 2, expected: seenByA, actor: 'a', reason: 'a lost' }),
    ).toThrow(ConflictError);
    expect(a.getAlias(M, 'prod_best')).toBe(3);
    expect(a.aliasHistory(M, 'prod_best').map((h) => h.actor)).toEqual(['optimize', 'b']);
  });

  it.skipIf(!canSpawnTs)('let exactly one of several processes win the same compare-and-set', async () => {
    const file = tempDbPath();
    withVersions(open(file), 5);
    open(file).setAlias({ model: M, alias: 'prod_best', version: 1, ...who });
    const body = `
      const [file, version, startAt] = argv;
      const registry = openRegistry(file);
      waitUntil(Number(startAt));
      let result = 'won';
      try {
        registry.setAlias({ model: '${M}', alias: 'prod_best', version: Number(version), expected: 1, actor: 'p' + version, reason: 'race' });
      } catch (err) {
        result = err.name;
      }
      registry.close();
      process.stdout.write(result);`;
    const startAt = String(Date.now() + 3000);
    const results = await runInProcesses(body, (i) => [file, String(i + 2), startAt], 4);
    expect(results.filter((r) => r === 'won')).toHaveLength(1);
    expect(results.filter((r) => r === 'ConflictError')).toHaveLength(3);
    const history = open(file).aliasHistory(M, 'prod_best');
    expect(history).toHaveLength(2);
    expect(history[1]?.fromVersion).toBe(1);
  });

  it('skip moves to the current target without writing history', () => {
    const registry = open(tempDbPath());
    withVersions(registry, 1);
    registry.setAlias({ model: M, alias: 'prod_best', version: 1, ...who });
    const again = registry.setAlias({ model: M, alias: 'prod_best', version: 1, expected: 1, ...who });
    expect(again).toEqual({ model: M, alias: 'prod_best', fromVersion: 1, toVersion: 1, changed: false });
    expect(registry.aliasHistory(M, 'prod_best')).toHaveLength(1);
  });

  it('refuse unknown models, versions and bad names', () => {
    const registry = open(tempDbPath());
    withVersions(registry, 1);
    expect(() => registry.setAlias({ model: 'nope', alias: 'prod_best', version: 1, ...who })).toThrow(NotFoundError);
    expect(() => registry.setAlias({ model: M, alias: 'prod_best', version: 9, ...who })).toThrow(
      `model ${M} has no version 9; list its versions with 'rainops models show ${M}'`,
    );
    expect(() => registry.setAlias({ model: M, alias: 'prod best', version: 1, ...who })).toThrow(UsageError);
    expect(() => registry.setAlias({ model: M, alias: 'prod_best', version: 1, actor: '', reason: 'x' })).toThrow(
      UsageError,
    );
    expect(registry.aliasHistory(M)).toEqual([]);
  });

  it('delete with the same checks, recorded in the history', () => {
    const registry = open(tempDbPath());
    withVersions(registry, 2);
    registry.setAlias({ model: M, alias: 'challenger', version: 2, ...who });
    expect(() =>
      registry.deleteAlias({ model: M, alias: 'challenger', expected: 1, actor: 'retrain', reason: 'x' }),
    ).toThrow(`alias challenger of ${M} moved from v1 to v2 while this ran; nothing was removed`);
    expect(
      registry.deleteAlias({ model: M, alias: 'challenger', expected: 2, actor: 'retrain', reason: 'lost' }),
    ).toEqual({
      model: M,
      alias: 'challenger',
      fromVersion: 2,
      toVersion: null,
      changed: true,
    });
    expect(registry.getAlias(M, 'challenger')).toBeNull();
    expect(() => registry.deleteAlias({ model: M, alias: 'challenger', actor: 'x', reason: 'y' })).toThrow(
      NotFoundError,
    );
    expect(registry.aliasHistory(M, 'challenger').map((h) => [h.fromVersion, h.toVersion])).toEqual([
      [null, 2],
      [2, null],
    ]);
  });

  it('keep an append-only history, oldest first, and know the target before the latest move', () => {
    const clock = fakeClock();
    const file = tempDbPath();
    const registry = open(file, { now: clock.now });
    withVersions(registry, 3);
    expect(registry.previousAliasTarget(M, 'prod_best')).toBeNull();
    registry.setAlias({
      model: M,
      alias: 'prod_best',
      version: 1,
      expected: null,
      actor: 'optimize',
      reason: 'first model',
    });
    expect(registry.previousAliasTarget(M, 'prod_best')).toBeNull();
    clock.advance(1000);
    registry.setAlias({
      model: M,
      alias: 'prod_best',
      version: 2,
      expected: 1,
      actor: 'retrain',
      reason: 'challenger won',
    });
    clock.advance(1000);
    registry.setAlias({
      model: M,
      alias: 'prod_best',
      version: 3,
      expected: 2,
      actor: 'alice',
      reason: 'manual promote',
    });
    registry.setAlias({ model: M, alias: 'challenger', version: 1, actor: 'retrain', reason: 'other alias' });
    expect(registry.previousAliasTarget(M, 'prod_best')).toBe(2);

    const history = registry.aliasHistory(M, 'prod_best');
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
    expect(registry.aliasHistory(M)).toHaveLength(4);

    // a rollback is itself a move, so the target before it is the version rolled back from
    registry.setAlias({
      model: M,
      alias: 'prod_best',
      version: 2,
      expected: 3,
      actor: 'rollback',
      reason: 'bad deploy',
    });
    expect(registry.previousAliasTarget(M, 'prod_best')).toBe(3);
    expect(registry.aliasHistory(M, 'prod_best').slice(0, 3)).toEqual(history);

    const db = new Database(file);
    try {
      expect(() => db.prepare("UPDATE alias_history SET actor = 'mallory'").run()).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM alias_history').run()).toThrow(/append-only/);
    } finally {
      db.close();
    }
  });
});
