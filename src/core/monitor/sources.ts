import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Registry } from '../../registry/index.js';
import { isUrl, openSource } from '../dataset/source.js';
import { DataError, NotFoundError } from '../errors.js';
import { PREDICTIONS_PREFIX } from '../server/prediction-log.js';
import type { ArtifactStore } from '../store/types.js';
import { labelOf, readCsvInto, TableBuilder } from './table.js';
import type { Table } from './table.js';

/** Where the current rows come from. */
export type Against = { kind: 'dataset'; id: string } | { kind: 'file'; source: string } | { kind: 'predictions' };

/** `--against` as typed: `predictions`, an http(s) URL, an existing path, else a data set id (or prefix). */
export function parseAgainst(text: string | undefined, cwd: string): Against | null {
  if (text === undefined) return null;
  if (text === 'predictions') return { kind: 'predictions' };
  if (isUrl(text) || isAbsolute(text)) return { kind: 'file', source: text };
  const local = resolve(cwd, text);
  // A name that looks like a file is one, so that a typo gets "does not exist" rather than "no data set".
  if (existsSync(local) || /[/\\]|\.(csv|gz)$/i.test(text)) return { kind: 'file', source: local };
  return { kind: 'dataset', id: text };
}

/** Keeps the rows `keep` accepts (a new table; the input is left as it was). */
export function selectRows(t: Table, keep: (i: number) => boolean): Table {
  const idx: number[] = [];
  for (let i = 0; i < t.n; i++) if (keep(i)) idx.push(i);
  if (idx.length === t.n) return t;
  const pick = <T extends Float32Array | Int8Array>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(idx.length);
    idx.forEach((i, k) => {
      out[k] = a[i]!;
    });
    return out;
  };
  return {
    n: idx.length,
    num: Object.fromEntries(Object.entries(t.num).map(([c, a]) => [c, pick(a)])) as Table['num'],
    cat: Object.fromEntries(Object.entries(t.cat).map(([c, a]) => [c, idx.map((i) => a[i]!)])) as Table['cat'],
    date: idx.map((i) => t.date[i]!),
    label: pick(t.label),
    logged: pick(t.logged),
  };
}

/** A data set's raw rows of one part (train or test) with their labels. */
export async function readDatasetPart(store: ArtifactStore, datasetId: string, part: 'train' | 'test'): Promise<Table> {
  const b = new TableBuilder();
  const base = `datasets/${datasetId}/preprocessed`;
  await readCsvInto(b, await store.stream(`${base}/X_${part}.csv`), `${base}/X_${part}.csv`);
  const t = b.build();
  const labels = (await store.get(`${base}/y_${part}.csv`)).toString('utf8').split('\n');
  for (let i = 0; i < t.n; i++) t.label[i] = labelOf(labels[i + 1]?.trim());
  return t;
}

/** A CSV path or URL in the weatherAUS format, plain or gzip. */
export async function readCsvSource(source: string): Promise<Table> {
  const b = new TableBuilder();
  const input = await openSource(source, { scope: 'monitor' }).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES')
      throw new DataError(
        `monitor: --against ${source} ${code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a folder' : 'is not readable'}; pass a weatherAUS-format CSV, a data set id or predictions`,
      );
    throw err;
  });
  await readCsvInto(b, input, source);
  return b.build();
}

/** The day folders of the prediction log in [since, until] (YYYY-MM-DD, inclusive). */
export async function predictionLogKeys(
  store: ArtifactStore,
  model: string,
  since: string | undefined,
  until: string | undefined,
): Promise<string[]> {
  const prefix = `${PREDICTIONS_PREFIX}/${model}/`;
  const keys = await store.list(prefix);
  return keys.filter((k) => {
    const day = k.slice(prefix.length, prefix.length + 10);
    return k.endsWith('.jsonl.gz') && (!since || day >= since) && (!until || day <= until);
  });
}

/** The logged predictions of a model, read a file at a time and line by line (memory: the columns only). */
export async function readPredictionLog(
  store: ArtifactStore,
  model: string,
  since: string | undefined,
  until: string | undefined,
): Promise<{ table: Table; files: number }> {
  const keys = await predictionLogKeys(store, model, since, until);
  if (keys.length === 0)
    throw new NotFoundError(
      `no logged predictions of ${model}${since ? ` since ${since}` : ''}${until ? ` until ${until}` : ''}; start the server with 'rainops serve --log-predictions'`,
    );
  const b = new TableBuilder();
  for (const key of keys) {
    const lines = createInterface({ input: (await store.stream(key)).pipe(createGunzip()), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line === '') continue;
      const rec = JSON.parse(line) as {
        inputs?: Record<string, unknown>;
        request?: { features?: Record<string, unknown> };
        probability?: unknown;
      };
      // Single-row requests are logged as their body came: {"features": {...}}.
      const inputs = rec.inputs ?? rec.request?.features ?? {};
      const p = typeof rec.probability === 'number' ? rec.probability : Number.NaN;
      b.push((c) => inputs[c], labelOf(inputs.RainTomorrow), p);
    }
  }
  return { table: b.build(), files: keys.length };
}

/** Date|Location of every training row of a data set. */
export function keysOf(t: Table): Set<string> {
  const keys = new Set<string>();
  for (let i = 0; i < t.n; i++) keys.add(`${t.date[i]}|${t.cat.Location[i]}`);
  return keys;
}

export async function resolveCurrentDataset(registry: Registry, id: string | undefined): Promise<string> {
  if (id) return (await registry.getDataset(id)).id;
  const newest = await registry.newestDataset();
  if (!newest) throw new NotFoundError("no data set yet; create one with 'rainops etl'");
  return newest.id;
}
