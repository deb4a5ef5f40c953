import type { Readable } from 'node:stream';

/** What a write recorded: the object's size and the sha256 of its bytes. */
export interface PutResult {
  key: string;
  size: number;
  sha256: string;
}

/** One object in a listing, with when it was last written (gc judges age by it). */
export interface StoreEntry {
  key: string;
  size: number;
  modified: Date;
}

/**
 * What publish() did: moved the staged files into place, or found the final prefix already holding
 * something (then it left that untouched and dropped the staging).
 */
export type PublishOutcome = 'published' | 'exists';

/**
 * Where data sets, run artifacts and model bundles live. Keys are `/`-separated paths
 * relative to the store root. Writes are atomic: a reader sees the old object or the new one.
 */
export interface ArtifactStore {
  /** `file:///abs/path` or `s3://bucket/prefix`. */
  readonly url: string;
  put(key: string, body: Uint8Array | string): Promise<PutResult>;
  /** Writes the object only when the key is absent; null when something was already there (it is left as it was). */
  putIfAbsent(key: string, body: Uint8Array | string): Promise<PutResult | null>;
  /** Uploads a local file, streaming it. */
  putFile(key: string, localPath: string): Promise<PutResult>;
  /** Throws NotFoundError when the key is absent. */
  get(key: string): Promise<Buffer>;
  /** Throws NotFoundError when the key is absent. */
  stream(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  /** Every key under the prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Every object under the prefix with its size and modification time, sorted by key. */
  listEntries(prefix: string): Promise<StoreEntry[]>;
  /**
   * Moves everything under `staging` to `final` as one step, never over anything: when `final`
   * already holds an object, nothing under it changes, the staging is removed and the answer is
   * 'exists'. `marker` (a name relative to both prefixes) is the object that makes the set complete;
   * a store that cannot move a folder at once writes it last, and readers treat a set without it as absent.
   */
  publish(staging: string, final: string, marker: string): Promise<PublishOutcome>;
  /** Removes every key under the prefix (used to clean up after a failed write). */
  removePrefix(prefix: string): Promise<void>;
}
