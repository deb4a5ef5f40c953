import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { openStore } from '../../src/core/store/index.js';
import { createFileStore } from '../../src/core/store/file-store.js';
import { createMemoryStore } from '../../src/core/store/memory-store.js';
import { testStore } from './contract.js';
import { tempDir } from '../helpers/temp.js';

const tempRoot = () => tempDir('rainops-fs-');

testStore('memory', () => createMemoryStore());
testStore('file', () => createFileStore(tempRoot()));

describe('file store', () => {
  it('leaves no temp files behind after writes', async () => {
    const root = tempRoot();
    const store = createFileStore(root);
    await store.put('a/x.txt', 'x');
    expect(readdirSync(join(root, 'a'))).toEqual(['x.txt']);
  });

  it('is opened from file:// URLs, relative ones against cwd', () => {
    const cwd = tempRoot();
    expect(openStore('file://store', { cwd, env: {} }).url).toBe(`file://${join(cwd, 'store')}`);
    expect(openStore(`file://${cwd}/abs`, { cwd: '/', env: {} }).url).toBe(`file://${cwd}/abs`);
    expect(() => openStore('ftp://x', { cwd, env: {} })).toThrow(UsageError);
  });

  it('lets exactly one of many concurrent putIfAbsent calls write, and leaves no temp file', async () => {
    const root = tempRoot();
    const store = createFileStore(root);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => store.putIfAbsent('owner.json', `writer ${i}`)));
    const winners = results.filter((r) => r !== null);
    expect(winners).toHaveLength(1);
    expect((await store.get('owner.json')).toString()).toBe(`writer ${results.findIndex((r) => r !== null)}`);
    expect(readdirSync(root)).toEqual(['owner.json']);
  });

  it('publishes exactly one of several concurrent stagings of the same target, and leaves no staging folders', async () => {
    const root = tempRoot();
    const store = createFileStore(root);
    const runs = ['r1', 'r2', 'r3', 'r4'];
    for (const r of runs) {
      await store.put(`staging/${r}/datasets/x/data.csv`, `from ${r}`);
      await store.put(`staging/${r}/datasets/x/manifest.json`, r);
    }
    const outcomes = await Promise.all(runs.map((r) => store.publish(`staging/${r}/datasets/x`, 'datasets/x', 'manifest.json')));
    expect(outcomes.filter((o) => o === 'published')).toHaveLength(1);
    const winner = runs[outcomes.indexOf('published')]!;
    expect((await store.get('datasets/x/data.csv')).toString()).toBe(`from ${winner}`);
    expect((await store.get('datasets/x/manifest.json')).toString()).toBe(winner);
    expect(readdirSync(join(root, 'staging'))).toEqual([]);
    expect(existsSync(join(root, 'datasets/x/manifest.json'))).toBe(true);
  });
});
