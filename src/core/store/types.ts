import type { Readable } from 'node:stream';

/** What a write recorded: the object's size and the sha256 of its bytes. */
export interface PutResult {
  key: string;
  size: number;
  sha256: string;
}

/**
 * Where data sets, run artifacts and model bundles live. Keys are `/`-separated paths
 * relative to the store root. Writes are atomic: a reader sees the old object or the new one.
 */
export interface ArtifactStore {
  /** `file:///abs/path` or `s3://bucket/prefix`. */
  readonly url: string;
  put(key: string, body: Uint8Array | string): Promise<PutResult>;
  /** Uploads a local file, streaming it. */
  putFile(key: string, localPath: string): Promise<PutResult>;
  /** Throws NotFoundError when the key is absent. */
  get(key: string): Promise<Buffer>;
  /** Throws NotFoundError when the key is absent. */
  stream(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  /** Every key under the prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Removes every key under the prefix (used to clean up after a failed write). */
  removePrefix(prefix: string): Promise<void>;
}
