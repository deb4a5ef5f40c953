import { isAbsolute, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { createFileStore } from './file-store.js';
import type { ArtifactStore } from './types.js';

export type { ArtifactStore, PutResult } from './types.js';

/** Opens the store named by a `file://PATH` or `s3://BUCKET[/PREFIX]` URL; relative paths resolve against cwd. */
export function openStore(url: string, cwd: string): ArtifactStore {
  if (url.startsWith('file://')) {
    const path = decodeURIComponent(url.slice('file://'.length));
    if (path === '') throw new UsageError(`store: ${url} names no folder; use file:///absolute/path or file://relative/path`);
    return createFileStore(isAbsolute(path) ? path : resolve(cwd, path));
  }
  if (url.startsWith('s3://')) {
    throw new UsageError(`store: s3:// stores are not supported by this version of rainops yet; use a file:// store`);
  }
  throw new UsageError(`store: "${url}" is not a store URL; use file://PATH or s3://BUCKET[/PREFIX]`);
}
