import type { RunDetail } from '../registry/index.js';

export interface ComparisonRow {
  kind: 'param' | 'metric';
  key: string;
  values: Array<string | number | null>;
  /** Each run's value minus the first run's, for numeric values. */
  deltas: Array<number | null>;
  changed: boolean;
}

export interface Comparison {
  runs: Array<{ id: string; name: string; status: string }>;
  rows: ComparisonRow[];
}

const asNumber = (v: string | number | null): number | null => {
  if (v === null) return null;
  const n = typeof v === 'number' ? v : Number(v);
  return v !== '' && Number.isFinite(n) ? n : null;
};

/** Parameters and metrics of several runs side by side, with deltas against the first. */
export function compareRuns(runs: readonly RunDetail[], onlyChanged = false): Comparison {
  const rows: ComparisonRow[] = [];
  const section = (kind: ComparisonRow['kind'], pick: (r: RunDetail) => Record<string, string | number>) => {
    const keys = [...new Set(runs.flatMap((r) => Object.keys(pick(r))))].sort();
    for (const key of keys) {
      const values = runs.map((r) => pick(r)[key] ?? null);
      const base = asNumber(values[0]!);
      const deltas = values.map((v) => {
        const n = asNumber(v);
        return base === null || n === null ? null : n - base;
      });
      const changed = values.some((v) => String(v) !== String(values[0]));
      if (!onlyChanged || changed) rows.push({ kind, key, values, deltas, changed });
    }
  };
  section('param', (r) => r.params);
  section('metric', (r) => r.metrics);
  return { runs: runs.map((r) => ({ id: r.id, name: r.name, status: r.status })), rows };
}
