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
      const body = 'x,y\n' + '1,2\n'.repeat(100_000);
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

    it('rejects keys that escape the root', async () => {
      const store = await makeStore();
      await expect(store.put('../evil', 'x')).rejects.toBeInstanceOf(UsageError);
      await expect(store.put('/abs', 'x')).rejects.toBeInstanceOf(UsageError);
      await expect(store.put('a//b', 'x')).rejects.toBeInstanceOf(UsageError);
    });
  });
}
