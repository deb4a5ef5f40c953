import type { Readable } from 'node:stream';
import type { Artifact } from '../registry/index.js';
import type { ArtifactStore } from '../core/store/types.js';

const TYPES: Record<string, string> = {
  svg: 'image/svg+xml',
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  md: 'text/plain; charset=utf-8',
};

export function contentType(path: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase() ?? '';
  return TYPES[ext] ?? 'application/octet-stream';
}

/** The store key of an artifact, or null when its URI points outside this store. */
export function artifactKey(store: ArtifactStore, a: Pick<Artifact, 'uri'>): string | null {
  // Writers join `${store.url}/${key}`, whatever the URL ends with (memory:// does with a slash).
  const prefix = `${store.url}/`;
  if (!a.uri.startsWith(prefix)) return null;
  const key = a.uri.slice(prefix.length);
  return key && !key.startsWith('/') && !key.split('/').includes('..') ? key : null;
}

/** At most `limit` bytes from the start of an object, read as a stream so a large CSV is not loaded whole. */
export async function head(
  store: ArtifactStore,
  key: string,
  limit: number,
): Promise<{ text: string; truncated: boolean }> {
  const stream: Readable = await store.stream(key);
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  try {
    for await (const chunk of stream) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      chunks.push(b);
      size += b.length;
      if (size >= limit) {
        truncated = true;
        break;
      }
    }
  } finally {
    stream.destroy();
  }
  const all = Buffer.concat(chunks);
  // Cut at the last newline so the preview ends on a whole line (and a whole UTF-8 character).
  const cut = truncated ? Math.max(0, all.lastIndexOf(10, limit)) : all.length;
  return { text: all.subarray(0, cut || Math.min(limit, all.length)).toString('utf8'), truncated };
}

export const isPlot = (path: string) => path.toLowerCase().endsWith('.svg');
export const isPreviewable = (path: string) => /\.(json|csv|txt|md)$/i.test(path);
