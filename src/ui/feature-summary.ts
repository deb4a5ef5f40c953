import { createInterface } from 'node:readline';
import { CONTINUOUS_COLUMNS } from '../core/dataset/schema.js';
import type { ArtifactStore } from '../core/store/types.js';

export interface FeatureSummary {
  name: string;
  rows: number;
  missingRate: number;
  /** min, 25 %, median, 75 %, max of the present values (null when every value is missing). */
  quantiles: [number, number, number, number, number] | null;
  histogram: number[];
  /** What the fitted pipeline fills a missing value with, and the range it clips to (when it clips). */
  impute: number | null;
  clip: { lo: number; hi: number } | null;
}

const BINS = 16;
const CONTINUOUS = new Set<string>(CONTINUOUS_COLUMNS);

function quantile(sorted: Float64Array, q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

function summarize(name: string, values: number[], rows: number, pipeline: Pipeline | null): FeatureSummary {
  const sorted = Float64Array.from(values).sort();
  const histogram = new Array<number>(BINS).fill(0);
  let quantiles: FeatureSummary['quantiles'] = null;
  if (sorted.length) {
    const lo = sorted[0]!;
    const hi = sorted[sorted.length - 1]!;
    for (const v of sorted) histogram[hi === lo ? 0 : Math.min(BINS - 1, Math.floor(((v - lo) / (hi - lo)) * BINS))]!++;
    quantiles = [lo, quantile(sorted, 0.25), quantile(sorted, 0.5), quantile(sorted, 0.75), hi];
  }
  return {
    name,
    rows,
    missingRate: rows ? 1 - values.length / rows : 0,
    quantiles,
    histogram,
    impute: pipeline?.impute?.continuous?.[name] ?? null,
    clip: pipeline?.clip?.[name] ?? null,
  };
}

interface Pipeline {
  impute?: { continuous?: Record<string, number> };
  clip?: Record<string, { lo: number; hi: number }>;
}

async function readPipeline(store: ArtifactStore, id: string): Promise<Pipeline | null> {
  try {
    return JSON.parse((await store.get(`datasets/${id}/pipes/inputs_pipeline.json`)).toString('utf8')) as Pipeline;
  } catch {
    return null;
  }
}

/**
 * Per continuous feature of a data set's training rows (preprocessed/X_train.csv, raw values): missing rate,
 * quantiles and a histogram, with what the fitted pipeline imputes and clips. One streaming pass over the file.
 */
export async function featureSummary(store: ArtifactStore, id: string): Promise<FeatureSummary[]> {
  const pipeline = await readPipeline(store, id);
  const stream = await store.stream(`datasets/${id}/preprocessed/X_train.csv`);
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let header: string[] | null = null;
  let columns: Array<{ name: string; at: number; values: number[] }> = [];
  let rows = 0;
  try {
    for await (const line of lines) {
      if (header === null) {
        header = line.split(',');
        columns = header.flatMap((name, at) => (CONTINUOUS.has(name) ? [{ name, at, values: [] as number[] }] : []));
        continue;
      }
      if (line === '') continue;
      rows++;
      const cells = line.split(',');
      for (const c of columns) {
        const cell = cells[c.at];
        if (cell === undefined || cell === '' || cell === 'NA') continue;
        const v = Number(cell);
        if (Number.isFinite(v)) c.values.push(v);
      }
    }
  } finally {
    lines.close();
    stream.destroy();
  }
  return columns.map((c) => summarize(c.name, c.values, rows, pipeline));
}

/** Summaries computed once per data set (a version is immutable), the most recent few kept. */
export function featureSummaryCache(store: ArtifactStore, keep = 8): (id: string) => Promise<FeatureSummary[]> {
  const cache = new Map<string, Promise<FeatureSummary[]>>();
  return (id) => {
    let hit = cache.get(id);
    if (!hit) {
      hit = featureSummary(store, id);
      hit.catch(() => cache.delete(id));
      cache.set(id, hit);
      if (cache.size > keep) cache.delete(cache.keys().next().value as string);
    }
    return hit;
  };
}
