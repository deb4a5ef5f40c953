import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/context.js';
import { etl } from '../../src/core/etl.js';
import { createMemoryStore } from '../../src/core/store/memory-store.js';
import { openRegistry } from '../../src/registry/index.js';
import { tempDir, weatherCsvText } from '../helpers/cli.js';

describe("etl's count of rows left out by --until", () => {
  const dirs: string[] = [];
  afterEach(async () => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('counts the rows dated after --until, 0 without it, also for a data set whose manifest called it afterUntil', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const csv = join(dir, 'head.csv');
    // Albury's first 300 days: 2008-12-01 .. 2009-09-26.
    writeFileSync(csv, `${weatherCsvText().split('\n').slice(0, 301).join('\n')}\n`);
    const registry = await openRegistry(join(dir, 'registry.db'));
    const store = createMemoryStore();
    const deps = { registry, store, logger: silentLogger, home: dir };
    const opts = { source: csv, testSize: 0.2, seed: 42, split: 'stratified' as const, strict: false };
    try {
      const all = await etl(opts, deps);
      expect(all.rows).toMatchObject({ total: 300, excludedByUntil: 0 });
      const early = await etl({ ...opts, until: '2008-12-31' }, deps);
      expect(early.rows).toMatchObject({ total: 300, excludedByUntil: 300 - 31 });
      expect(early.rows.kept + early.rows.dropped).toBe(31);
      // A manifest written before the rename: the reused data set still reports the count under its new name.
      const key = `datasets/${early.datasetId}/manifest.json`;
      const manifest = JSON.parse((await store.get(key)).toString('utf8'));
      const { excludedByUntil, ...rows } = manifest.summary.rows;
      manifest.summary.rows = { ...rows, afterUntil: excludedByUntil };
      await store.put(key, JSON.stringify(manifest));
      const reused = await etl({ ...opts, until: '2008-12-31' }, deps);
      expect(reused.reused).toBe(true);
      expect(reused.rows).toEqual(early.rows);
    } finally {
      await registry.close();
    }
  });
});
