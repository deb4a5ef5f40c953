import type { RegistryContext } from './context.js';

/** The registry's persistent random id (migration 3), which a store records as its owner. */
export function registryId(ctx: RegistryContext): string {
  const row = ctx.stmt<{ value: string }>("SELECT value FROM registry_meta WHERE key = 'registry_id'").get();
  if (!row) throw new Error(`registry ${ctx.db.name} has no registry_id; its schema is incomplete`);
  return row.value;
}
