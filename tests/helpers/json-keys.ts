/** Maps keyed by data (metric and tag names, rejection reasons, file paths, alias names): their own keys are not checked. */
export const DATA_MAP_KEYS = ['metrics', 'tags', 'metric_history', 'rejected_by_reason', 'files', 'aliases'];

/** Every object key in a JSON document that is not snake_case, with its path; the keys of DATA_MAP_KEYS' values are skipped. */
export function nonSnakeKeys(value: unknown, path = '$', skipOwnKeys = false): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => nonSnakeKeys(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [
    ...(skipOwnKeys || /^[a-z0-9_]+$/.test(k) ? [] : [`${path}.${k}`]),
    ...nonSnakeKeys(v, `${path}.${k}`, !skipOwnKeys && DATA_MAP_KEYS.includes(k)),
  ]);
}
