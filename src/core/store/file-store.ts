import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { NotFoundError, RainopsError, diskFullError } from '../errors.js';
import { sha256, sha256File } from '../hash.js';
import { checkKey } from './keys.js';
import type { ArtifactStore, PublishOutcome, PutResult, StoreEntry } from './types.js';

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** A store in a local folder; each write goes to a temp file renamed into place. */
export function createFileStore(root: string): ArtifactStore {
  const url = `file://${root}`;
  const pathOf = (key: string) => join(root, ...checkKey(key).split('/'));
  const dirOf = (prefix: string) => (prefix === '' ? root : pathOf(prefix.replace(/\/$/, '')));
  const tempBeside = (target: string) => `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const keyOf = (path: string) => relative(root, path).split(sep).join('/');

  // A failed write removes its temp file (a full disk stays full otherwise) and says what to do.
  const writeFailed = async (key: string, err: unknown, tmp?: string): Promise<never> => {
    if (tmp) await rm(tmp, { force: true }).catch(() => undefined);
    throw diskFullError(err, `${url}/${key}`, { scope: 'store' }) ?? err;
  };

  const notFound = (key: string, err: unknown): never => {
    if (codeOf(err) === 'ENOENT') {
      throw new NotFoundError(`store: ${key} does not exist in ${url}`);
    }
    throw err;
  };

  async function files(prefix: string): Promise<string[]> {
    const entries = await readdir(dirOf(prefix), { recursive: true, withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isFile() && !e.name.includes('.tmp-')).map((e) => join(e.parentPath, e.name));
  }

  /** Removes the empty folders a moved staging leaves, up to (not including) its top-level folder. */
  async function pruneEmpty(dir: string, top: string): Promise<void> {
    for (let d = dir; d !== top && d.startsWith(top + sep); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return;
      }
    }
  }

  const exists = (key: string) =>
    stat(pathOf(key)).then(
      (s) => s.isFile(),
      () => false,
    );

  return {
    url,
    async put(key, body): Promise<PutResult> {
      const target = pathOf(key);
      await mkdir(dirname(target), { recursive: true }).catch((err: unknown) => writeFailed(key, err));
      const tmp = tempBeside(target);
      await writeFile(tmp, body).catch((err: unknown) => writeFailed(key, err, tmp));
      await rename(tmp, target).catch((err: unknown) => writeFailed(key, err, tmp));
      const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
      return { key, size, sha256: sha256(body) };
    },
    async putIfAbsent(key, body): Promise<PutResult | null> {
      const target = pathOf(key);
      await mkdir(dirname(target), { recursive: true });
      const tmp = tempBeside(target);
      await writeFile(tmp, body);
      try {
        // link() never replaces an existing name, so of two writers exactly one gets it.
        await link(tmp, target);
      } catch (err) {
        if (codeOf(err) === 'EEXIST') return null;
        throw err;
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
      const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
      return { key, size, sha256: sha256(body) };
    },
    async putFile(key, localPath): Promise<PutResult> {
      const target = pathOf(key);
      await mkdir(dirname(target), { recursive: true }).catch((err: unknown) => writeFailed(key, err));
      const tmp = tempBeside(target);
      await copyFile(localPath, tmp).catch((err: unknown) => writeFailed(key, err, tmp));
      await rename(tmp, target).catch((err: unknown) => writeFailed(key, err, tmp));
      return { key, ...(await sha256File(target)) };
    },
    async get(key) {
      return readFile(pathOf(key)).catch((err: unknown) => notFound(key, err));
    },
    async stream(key): Promise<Readable> {
      const p = pathOf(key);
      await stat(p).catch((err: unknown) => notFound(key, err));
      return createReadStream(p);
    },
    exists,
    async list(prefix) {
      return (await files(prefix)).map(keyOf).sort();
    },
    async listEntries(prefix): Promise<StoreEntry[]> {
      const out: StoreEntry[] = [];
      for (const path of await files(prefix)) {
        // A file removed between the listing and its stat is simply no longer there.
        const s = await stat(path).catch(() => null);
        if (s) out.push({ key: keyOf(path), size: s.size, modified: s.mtime });
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    async publish(staging, final, marker): Promise<PublishOutcome> {
      const from = dirOf(staging);
      const to = dirOf(final);
      if (!(await exists(`${staging.replace(/\/$/, '')}/${marker}`))) {
        throw new RainopsError(
          `store: cannot publish ${staging} to ${final} in ${url}: ${marker} was never written there`,
        );
      }
      await mkdir(dirname(to), { recursive: true });
      try {
        // rename(2) moves a folder in one step and refuses a target folder that holds anything.
        await rename(from, to);
      } catch (err) {
        if (!['ENOTEMPTY', 'EEXIST', 'ENOTDIR', 'EISDIR'].includes(codeOf(err) ?? '')) throw err;
        await rm(from, { recursive: true, force: true });
        await pruneEmpty(dirname(from), join(root, staging.split('/')[0]!));
        return 'exists';
      }
      await pruneEmpty(dirname(from), join(root, staging.split('/')[0]!));
      return 'published';
    },
    async removePrefix(prefix) {
      await rm(pathOf(prefix.replace(/\/$/, '')), { recursive: true, force: true });
    },
  };
}

export function fileStoreRoot(storeUrl: string): string {
  return fileURLToPath(storeUrl);
}
