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

  it('is opened from absolute file:// URLs, percent escapes decoded', () => {
    const cwd = tempRoot();
    expect(openStore(`file://${cwd}/abs`, { cwd: '/', env: {} }).url).toBe(`file://${cwd}/abs`);
    expect(openStore(`file://localhost${cwd}/abs`, { cwd: '/', env: {} }).url).toBe(`file://${cwd}/abs`);
    expect(openStore(`file://${cwd}/a%20b%23c`, { cwd: '/', env: {} }).url).toBe(`file://${cwd}/a b#c`);
    expect(() => openStore('ftp://x', { cwd, env: {} })).toThrow(UsageError);
  });

  it('lets exactly one of many concurrent putIfAbsent calls write, and leaves no temp file', async () => {
    const root = tempRoot();
    const store = createFileStore(root);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.putIfAbsent('owner.json', `writer ${i}`)),
    );
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
    const outcomes = await Promise.all(
      runs.map((r) => store.publish(`staging/${r}/datasets/x`, 'datasets/x', 'manifest.json')),
    );
    expect(outcomes.filter((o) => o === 'published')).toHaveLength(1);
    const winner = runs[outcomes.indexOf('published')]!;
    expect((await store.get('datasets/x/data.csv')).toString()).toBe(`from ${winner}`);
    expect((await store.get('datasets/x/manifest.json')).toString()).toBe(winner);
    expect(readdirSync(join(root, 'staging'))).toEqual([]);
    expect(existsSync(join(root, 'datasets/x/manifest.json'))).toBe(true);
  });

  it('refuses file:// URLs with a host, a relative path, a query or a fragment, or a bad escape', () => {
    const cases: Array<[string, string]> = [
      ['file://host/x', "names the host 'host' (a relative path reads as one)"],
      ['file://relative/path', "names the host 'relative' (a relative path reads as one)"],
      ['file:///srv/store?mode=ro', 'has a query'],
      ['file:///srv/store#v2', 'has a fragment'],
      ['file://', 'names no folder'],
      ['file:///srv/100%', 'has an escape that does not decode to a path'],
      ['file:///srv/a%2Fb', 'has an escape that does not decode to a path'],
      ['file:relative', 'names no folder'],
    ];
    for (const [url, why] of cases) {
      expect(() => openStore(url, { cwd: '/', env: {} }), url).toThrow(UsageError);
      expect(() => openStore(url, { cwd: '/', env: {} }), url).toThrow(
        `store: ${url} ${why}; write file:// then an absolute path`,
      );
    }
  });
});
