/** Top-level folder of unpublished writes: `staging/<run id>/<final prefix>/...`. */
export const STAGING = 'staging';

/** Where a run writes a set before publishing it at `finalPrefix`; no other run writes there. */
export function stagingPrefix(runId: string, finalPrefix: string): string {
  return `${STAGING}/${runId}/${finalPrefix.replace(/\/$/, '')}`;
}
