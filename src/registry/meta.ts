import { sql } from 'kysely';
import type { RegistryContext } from './context.js';

/** The registry's persistent random id (migration 3), which a store records as its owner. */
export async function registryId(ctx: RegistryContext): Promise<string> {
  const row = await ctx.one(sql<{ value: string }>`SELECT value FROM registry_meta WHERE key = 'registry_id'`);
  if (!row) throw new Error(`registry ${ctx.conn.name} has no registry_id; its schema is incomplete`);
  return row.value;
}
