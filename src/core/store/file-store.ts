import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { NotFoundError, diskFullError } from '../errors.js';
import { sha256, sha256File } from '../hash.js';
import { checkKey } from './keys.js';
import type { ArtifactStore, PutResult } from './types.js';

/** A store in a local folder; each write goes to a temp file renamed into place. */
export function createFileStore(root: string): ArtifactStore {
  const url = `file://${root}`;
  const pathOf = (key: string) => join(root, ...checkKey(key).split('/'));
  const tempBeside = (target: string) => `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;

  // A failed write removes its temp file (a full disk stays full otherwise) and says what to do.
  const writeFailed = async (key: string, err: unknown, tmp?: string): Promise<never> => {
    if (tmp) await rm(tmp, { force: true }).catch(() => undefined);
    throw diskFullError(err, `${url}/${key}`, { scope: 'store' }) ?? err;
  };

  const notFound = (key: string, err: unknown): never => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`store: ${key} does not exist in ${url}`);
    }
    throw err;
  };

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
    async exists(key) {
      return stat(pathOf(key)).then(
        (s) => s.isFile(),
        () => false,
      );
    },
    async list(prefix) {
      const base = prefix === '' ? root : pathOf(prefix.replace(/\/$/, ''));
      const entries = await readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
      return entries
        .filter((e) => e.isFile() && !e.name.includes('.tmp-'))
        .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'))
        .sort();
    },
    async removePrefix(prefix) {
      await rm(pathOf(prefix.replace(/\/$/, '')), { recursive: true, force: true });
    },
  };
}

export function fileStoreRoot(storeUrl: string): string {
  return fileURLToPath(storeUrl);
}
