import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/context.js';
import { gc } from '../../src/core/gc.js';
import { createMemoryStore } from '../../src/core/store/memory-store.js';
import type { Registry } from '../../src/registry/index.js';
import { cli } from '../helpers/cli.js';
import { open, seedRunAndDataset, SHA_A, tempDbPath } from '../registry/helpers.js';

const HOUR = 3_600_000;

/** A registry with one registered data set and version, and a store holding them plus garbage of various ages. */
async function scene() {
  let t = Date.parse('2026-03-01T00:00:00Z');
  const store = createMemoryStore({ now: () => new Date(t) });
  const registry: Registry = await open(tempDbPath());
  const ids = await seedRunAndDataset(registry, 'registered-ds');
  await registry.createModelVersion({
    model: 'M',
    runId: ids.runId,
    datasetId: ids.datasetId,
    bundleUri: 'memory:///models/M/1',
    bundleSha256: SHA_A,
    engine: 'wasm',
    params: {},
    metrics: {},
  });
  await registry.finishRun(ids.runId, { status: 'FINISHED' });
  const failed = await registry.startRun({ experiment: 'Rain Dataset', name: 'optimize' });
  await registry.finishRun(failed.id, { status: 'FAILED', error: 'killed' });

  // Three days old: registered things, and garbage of every kind.
  await store.put('datasets/registered-ds/manifest.json', '{}');
  await store.put('models/M/1/metadata.json', '{}');
  await store.put(`staging/${failed.id}/datasets/x/raw.csv`, 'abc');
  await store.put('datasets/orphan/manifest.json', '{}');
  await store.put('datasets/orphan/raw.csv', 'rows');
  await store.put('datasets/half/raw.csv', 'r');
  await store.put('models/M/2/metadata.json', JSON.stringify({ runId: failed.id }));
  await store.put('models/M/3/trees.json', 't');
  await store.put('runs/r1/plots/roc.svg', '<svg/>');
  t += 72 * HOUR;
  // Written an hour ago: too young to go.
  await store.put('datasets/young/manifest.json', '{}');
  t += HOUR;
  const deps = { registry, store, logger: silentLogger, home: '/nowhere', now: () => new Date(t) };
  return { store, registry, deps, failed };
}

describe('gc', () => {
  it('with --dry-run lists what is old and unregistered, and removes nothing', async () => {
    const { store, deps, failed } = await scene();
    const before = await store.list('');
    const r = await gc({ dryRun: true, graceHours: 24 }, deps);
    expect(r.dry_run).toBe(true);
    expect(r.removed.map((i) => [i.kind, i.prefix, i.objects, i.bytes, i.age_hours])).toEqual([
      ['staging', `staging/${failed.id}`, 1, 3, 73],
      ['dataset', 'datasets/half', 1, 1, 73],
      ['dataset', 'datasets/orphan', 2, 6, 73],
      ['bundle', 'models/M/2', 1, JSON.stringify({ runId: failed.id }).length, 73],
      ['bundle', 'models/M/3', 1, 1, 73],
    ]);
    expect(r.removed.find((i) => i.prefix === 'models/M/2')?.reason).toBe(
      `bundle of M v2 is not a registered version (run ${failed.id} FAILED)`,
    );
    expect(r.removed.find((i) => i.prefix === 'datasets/half')?.reason).toBe(
      'data set half: files without manifest.json, never published',
    );
    expect(r.kept.map((i) => [i.prefix, i.age_hours])).toEqual([['datasets/young', 1]]);
    expect(await store.list('')).toEqual(before);
  });

  it('removes only the old unregistered sets, keeping registered ones, young ones and run artifacts', async () => {
    const { store, deps } = await scene();
    const r = await gc({ dryRun: false, graceHours: 24 }, deps);
    expect(r.removed).toHaveLength(5);
    expect(r.bytes_removed).toBe(r.removed.reduce((a, i) => a + i.bytes, 0));
    expect(await store.list('')).toEqual([
      'datasets/registered-ds/manifest.json',
      'datasets/young/manifest.json',
      'models/M/1/metadata.json',
      'runs/r1/plots/roc.svg',
    ]);
    expect((await gc({ dryRun: false, graceHours: 0 }, deps)).removed.map((i) => i.prefix)).toEqual(['datasets/young']);
  });

  it('keeps what a running run may still publish or register, whatever the grace', async () => {
    const { store, registry, deps, failed } = await scene();
    const etl = await registry.startRun({ experiment: 'Rain Dataset', name: 'etl' });
    await store.put(`staging/${etl.id}/datasets/y/raw.csv`, 'in progress');
    const r = await gc({ dryRun: false, graceHours: 0 }, deps);
    // While an etl runs, any unregistered data set may be the one it is publishing or registering.
    expect(r.kept.map((i) => i.prefix).sort()).toEqual(
      [`staging/${etl.id}`, 'datasets/half', 'datasets/orphan', 'datasets/young'].sort(),
    );
    expect(r.kept.find((i) => i.prefix === `staging/${etl.id}`)?.reason).toBe(
      `staging of run ${etl.id}, which is still running`,
    );
    expect(await store.exists(`staging/${etl.id}/datasets/y/raw.csv`)).toBe(true);
    expect(await store.exists('datasets/orphan/manifest.json')).toBe(true);
    // Bundles are not an etl's business: the unpublished and unregistered ones go.
    expect(r.removed.map((i) => i.prefix).sort()).toEqual(['models/M/2', 'models/M/3', `staging/${failed.id}`]);
  });

  it('keeps unpublished bundle files while an optimize runs (on S3 they land before their metadata)', async () => {
    const { registry, deps } = await scene();
    await registry.startRun({ experiment: 'Rain Dataset', name: 'optimize' });
    const r = await gc({ dryRun: true, graceHours: 0 }, deps);
    expect(r.kept.map((i) => i.prefix)).toEqual(['models/M/3']);
    expect(r.removed.map((i) => i.prefix)).toContain('models/M/2');
  });

  it('does nothing to a store it may not own', async () => {
    const { store, deps } = await scene();
    const before = await store.list('');
    const claimStore = async () => {
      throw new Error('store belongs to another registry');
    };
    await expect(gc({ dryRun: false, graceHours: 0 }, { ...deps, claimStore })).rejects.toThrow('another registry');
    expect(await store.list('')).toEqual(before);
  });
});

describe('rainops gc flags', () => {
  it('refuse a grace that is not a number of hours, 0 or more', async () => {
    for (const grace of ['abc', '-1', '', ' ', 'Infinity']) {
      const r = await cli(['gc', '--grace', grace]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^rainops: gc: --grace: expected a number of hours/);
    }
  });
});
