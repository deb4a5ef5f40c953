import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotFoundError, UsageError } from '../../src/core/errors.js';
import { sha256 } from '../../src/core/hash.js';
import type { ArtifactStore } from '../../src/core/store/types.js';
import { tempDir } from '../helpers/temp.js';

/** The behaviour every store implementation must have. */
export function testStore(name: string, makeStore: () => Promise<ArtifactStore> | ArtifactStore): void {
  describe(`store conformance: ${name}`, () => {
    it('round-trips bytes and strings with their size and sha256', async () => {
      const store = await makeStore();
      const bytes = new Uint8Array([0, 1, 2, 255]);
      const r = await store.put('a/b/c.bin', bytes);
      expect(r).toEqual({ key: 'a/b/c.bin', size: 4, sha256: sha256(bytes) });
      expect([...(await store.get('a/b/c.bin'))]).toEqual([0, 1, 2, 255]);
      const t = await store.put('a/text.txt', 'héllo');
      expect(t.size).toBe(6);
      expect((await store.get('a/text.txt')).toString('utf8')).toBe('héllo');
    });

    it('overwrites an object as a whole', async () => {
      const store = await makeStore();
      await store.put('k.txt', 'a much longer first body');
      await store.put('k.txt', 'short');
      expect((await store.get('k.txt')).toString()).toBe('short');
    });

    it('uploads a local file and streams it back', async () => {
      const store = await makeStore();
      const dir = tempDir('rainops-store-');
      const local = join(dir, 'big.csv');
      const body = `x,y\n${'1,2\n'.repeat(100_000)}`;
      writeFileSync(local, body);
      const r = await store.putFile('d/big.csv', local);
      expect(r.size).toBe(Buffer.byteLength(body));
      expect(r.sha256).toBe(sha256(body));
      const chunks: Buffer[] = [];
      for await (const c of await store.stream('d/big.csv')) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe(body);
    });

    it('reports missing keys as NotFoundError and exists() as false', async () => {
      const store = await makeStore();
      await expect(store.get('nope/x')).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.stream('nope/x')).rejects.toBeInstanceOf(NotFoundError);
      expect(await store.exists('nope/x')).toBe(false);
      await store.put('yes/x', '1');
      expect(await store.exists('yes/x')).toBe(true);
      expect(await store.exists('yes')).toBe(false);
    });

    it('lists keys under a prefix, sorted, and removes a prefix', async () => {
      const store = await makeStore();
      await store.put('p/2.txt', '2');
      await store.put('p/1.txt', '1');
      await store.put('p/sub/3.txt', '3');
      await store.put('pq/4.txt', '4');
      expect(await store.list('p/')).toEqual(['p/1.txt', 'p/2.txt', 'p/sub/3.txt']);
      await store.removePrefix('p');
      expect(await store.list('p/')).toEqual([]);
      expect(await store.exists('pq/4.txt')).toBe(true);
    });

    it('writes with putIfAbsent only when the key is absent, leaving what is there', async () => {
      const store = await makeStore();
      expect(await store.putIfAbsent('once/owner.json', 'first')).toEqual({
        key: 'once/owner.json',
        size: 5,
        sha256: sha256('first'),
      });
      expect(await store.putIfAbsent('once/owner.json', 'second')).toBeNull();
      expect((await store.get('once/owner.json')).toString()).toBe('first');
    });

    it('lists entries with their sizes and modification times', async () => {
      const store = await makeStore();
      await store.put('e/b.txt', 'bb');
      await store.put('e/a/c.txt', 'c');
      const entries = await store.listEntries('e/');
      expect(entries.map((e) => [e.key, e.size])).toEqual([
        ['e/a/c.txt', 1],
        ['e/b.txt', 2],
      ]);
      for (const e of entries) expect(Number.isNaN(e.modified.getTime())).toBe(false);
    });

    it('publishes a staged set under its final prefix in one step and drops the staging', async () => {
      const store = await makeStore();
      await store.put('staging/run1/ds/x/data.csv', 'a,b\n1,2\n');
      await store.put('staging/run1/ds/x/sub/more.csv', 'm');
      await store.put('staging/run1/ds/x/manifest.json', '{"v":1}');
      expect(await store.publish('staging/run1/ds/x', 'ds/x', 'manifest.json')).toBe('published');
      expect(await store.list('ds/')).toEqual(['ds/x/data.csv', 'ds/x/manifest.json', 'ds/x/sub/more.csv']);
      expect((await store.get('ds/x/data.csv')).toString()).toBe('a,b\n1,2\n');
      expect((await store.get('ds/x/manifest.json')).toString()).toBe('{"v":1}');
      expect(await store.list('staging/run1/')).toEqual([]);
    });

    it('never publishes over a prefix that holds anything: the target stays, the staging goes', async () => {
      const store = await makeStore();
      await store.put('staging/a/m/1/metadata.json', 'first');
      await store.put('staging/a/m/1/trees.json', 'first trees');
      expect(await store.publish('staging/a/m/1', 'm/1', 'metadata.json')).toBe('published');
      await store.put('staging/b/m/1/metadata.json', 'second');
      await store.put('staging/b/m/1/trees.json', 'second trees');
      await store.put('staging/b/m/1/extra.bin', 'x');
      expect(await store.publish('staging/b/m/1', 'm/1', 'metadata.json')).toBe('exists');
      expect(await store.list('m/1/')).toEqual(['m/1/metadata.json', 'm/1/trees.json']);
      expect((await store.get('m/1/metadata.json')).toString()).toBe('first');
      expect((await store.get('m/1/trees.json')).toString()).toBe('first trees');
      expect(await store.list('staging/b/')).toEqual([]);
      // A single stray object under the target counts too, marker or not.
      await store.put('m/2/stray.txt', 'left by someone');
      await store.put('staging/c/m/2/metadata.json', 'third');
      expect(await store.publish('staging/c/m/2', 'm/2', 'metadata.json')).toBe('exists');
      expect(await store.list('m/2/')).toEqual(['m/2/stray.txt']);
    });

    it('refuses to publish a staging whose marker was never written, and keeps it', async () => {
      const store = await makeStore();
      await store.put('staging/d/ds/y/data.csv', '1');
      await expect(store.publish('staging/d/ds/y', 'ds/y', 'manifest.json')).rejects.toThrow(
        /manifest\.json was never written/,
      );
      expect(await store.list('ds/y/')).toEqual([]);
      expect(await store.list('staging/d/')).toEqual(['staging/d/ds/y/data.csv']);
    });

    it('rejects keys that escape the root', async () => {
      const store = await makeStore();
      await expect(store.put('../evil', 'x')).rejects.toBeInstanceOf(UsageError);
      await expect(store.put('/abs', 'x')).rejects.toBeInstanceOf(UsageError);
      await expect(store.put('a//b', 'x')).rejects.toBeInstanceOf(UsageError);
    });
  });
}
