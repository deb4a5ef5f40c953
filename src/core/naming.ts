/** snake_case of a camelCase name (maxDepth -> max_depth, sourceSha256 -> source_sha256); snake_case names pass unchanged. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

/** camelCase of a snake_case name (max_depth -> maxDepth): how earlier versions recorded hyperparameters. */
export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Keys whose values are maps keyed by data (metric and tag names, rejection reasons, file paths, alias names):
 * those inner keys are shown as they are, while everything else in a JSON document is snake_case.
 */
export const DATA_MAPS: ReadonlySet<string> = new Set([
  'metrics',
  'tags',
  'metric_history',
  'rejected_by_reason',
  'files',
  'aliases',
]);

/** A copy of a JSON-ready value with every object key in snake_case, except the keys of DATA_MAPS' values. */
export function snakeKeys(value: unknown, keepKeys = false): unknown {
  if (Array.isArray(value)) return value.map((v) => snakeKeys(v));
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const name = keepKeys ? key : snakeCase(key);
    out[name] = snakeKeys(v, !keepKeys && DATA_MAPS.has(name));
  }
  return out;
}

/** A record's keys in snake_case: hyperparameters are recorded and shown under XGBoost's names (max_depth). */
export function snakeRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [snakeCase(k), v]));
}
