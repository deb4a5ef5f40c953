import { Readable } from 'node:stream';
import { readFile } from 'node:fs/promises';
import { NotFoundError, RainopsError } from '../errors.js';
import { sha256 } from '../hash.js';
import { checkKey } from './keys.js';
import type { ArtifactStore, PublishOutcome, StoreEntry } from './types.js';

export interface MemoryStoreOptions {
  /** Clock for modification times (tests age objects with it). */
  now?: () => Date;
}

/** A store held in memory, for tests. */
export function createMemoryStore(opts: MemoryStoreOptions = {}): ArtifactStore {
  const now = opts.now ?? (() => new Date());
  const objects = new Map<string, { body: Buffer; modified: Date }>();
  const get = (key: string): Buffer => {
    const o = objects.get(checkKey(key));
    if (!o) throw new NotFoundError(`store: ${key} does not exist in memory://`);
    return o.body;
  };
  const put = (key: string, body: Uint8Array | string) => {
    const buf = Buffer.from(body);
    objects.set(checkKey(key), { body: buf, modified: now() });
    return { key, size: buf.length, sha256: sha256(buf) };
  };
  const under = (prefix: string) => [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  const asDir = (prefix: string) => prefix.replace(/\/?$/, '/');
  const removePrefix = (prefix: string) => {
    for (const k of [...objects.keys()]) if (k === prefix || k.startsWith(asDir(prefix))) objects.delete(k);
  };
  return {
    url: 'memory://',
    async put(key, body) {
      return put(key, body);
    },
    async putIfAbsent(key, body) {
      return objects.has(checkKey(key)) ? null : put(key, body);
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
      return under(prefix);
    },
    async listEntries(prefix): Promise<StoreEntry[]> {
      return under(prefix).map((key) => ({
        key,
        size: objects.get(key)!.body.length,
        modified: objects.get(key)!.modified,
      }));
    },
    async publish(staging, final, marker): Promise<PublishOutcome> {
      const from = asDir(checkKey(staging.replace(/\/$/, '')));
      const to = asDir(checkKey(final.replace(/\/$/, '')));
      if (!objects.has(from + marker))
        throw new RainopsError(
          `store: cannot publish ${staging} to ${final} in memory://: ${marker} was never written there`,
        );
      // Synchronous from here on: nothing else can run between the check and the move.
      if (under(to).length > 0) {
        removePrefix(from);
        return 'exists';
      }
      for (const k of under(from)) {
        objects.set(to + k.slice(from.length), objects.get(k)!);
        objects.delete(k);
      }
      return 'published';
    },
    async removePrefix(prefix) {
      removePrefix(prefix);
    },
  };
}
