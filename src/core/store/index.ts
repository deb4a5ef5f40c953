import { fileUrlPath } from '../config.js';
import { UsageError } from '../errors.js';
import { createFileStore } from './file-store.js';
import { s3SettingsFromEnv } from './s3-settings.js';
import { createS3Store, type S3StoreOptions } from './s3-store.js';
import type { ArtifactStore } from './types.js';

export type { ArtifactStore, PutResult } from './types.js';

export interface OpenStoreContext {
  /** The caller's working folder (file:// URLs are absolute, so the file store does not need it). */
  cwd: string;
  /** Where RAINOPS_S3_* settings come from. */
  env: Record<string, string | undefined>;
  /** Overrides for the s3 store (tests shorten its retries). */
  s3?: S3StoreOptions;
}

/** Opens the store named by a `file://PATH` or `s3://BUCKET[/PREFIX]` URL. No I/O happens until first use. */
export function openStore(url: string, ctx: OpenStoreContext): ArtifactStore {
  if (url.startsWith('file:')) return createFileStore(fileUrlPath(url));
  if (url.startsWith('s3://')) return createS3Store(s3SettingsFromEnv(url, ctx.env), ctx.s3);
  throw new UsageError(`store: "${url}" is not a store URL; use file:///ABSOLUTE/PATH or s3://BUCKET[/PREFIX]`);
}
