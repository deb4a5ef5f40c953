import { Readable } from 'node:stream';
import { readFile } from 'node:fs/promises';
import { NotFoundError } from '../errors.js';
import { sha256 } from '../hash.js';
import { checkKey } from './keys.js';
import type { ArtifactStore } from './types.js';

/** A store held in memory, for tests. */
export function createMemoryStore(): ArtifactStore {
  const objects = new Map<string, Buffer>();
  const get = (key: string): Buffer => {
    const body = objects.get(checkKey(key));
    if (!body) throw new NotFoundError(`store: ${key} does not exist in memory://`);
    return body;
  };
  const put = (key: string, body: Uint8Array | string) => {
    const buf = Buffer.from(body);
    objects.set(checkKey(key), buf);
    return { key, size: buf.length, sha256: sha256(buf) };
  };
  return {
    url: 'memory://',
    async put(key, body) {
      return put(key, body);
    },
    async putFile(key, localPath) {
      return put(key, await readFile(localPath));
    },
    async get(key) {
      return Buffer.from(get(key));
    },
    async stream(key) {
      return Readable.from([get(key)]);
    },
    async exists(key) {
      return objects.has(checkKey(key));
    },
    async list(prefix) {
      return [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    },
    async removePrefix(prefix) {
      for (const k of [...objects.keys()]) if (k === prefix || k.startsWith(prefix.replace(/\/?$/, '/'))) objects.delete(k);
    },
  };
}
