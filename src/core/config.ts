import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { UsageError } from './errors.js';

const ConfigSchema = z.object({
  home: z.string().min(1),
  store: z.string().regex(/^(file|s3):\/\/.+/, { error: 'expected file://PATH or s3://BUCKET[/PREFIX]' }),
  source: z.string().min(1).optional(),
  /** How long a run or lock is held without a heartbeat (RAINOPS_LEASE_SECONDS). */
  leaseSeconds: z.coerce.number({ error: 'expected a number of seconds' }).positive({ error: 'expected a number of seconds above 0' }).optional(),
});
export type Config = z.infer<typeof ConfigSchema>;

/** One validated view of RAINOPS_* settings; flags win over the environment. */
export function loadConfig(env: Record<string, string | undefined>, cwd: string, flags: { home?: string | undefined; store?: string | undefined } = {}): Config {
  const homeRaw = flags.home ?? env.RAINOPS_HOME ?? '.rainops';
  const home = isAbsolute(homeRaw) ? homeRaw : resolve(cwd, homeRaw);
  const parsed = ConfigSchema.safeParse({
    home,
    store: flags.store ?? env.RAINOPS_STORE ?? `file://${join(home, 'store')}`,
    source: env.RAINOPS_SOURCE || undefined,
    leaseSeconds: env.RAINOPS_LEASE_SECONDS || undefined,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const names: Record<string, string> = { store: 'RAINOPS_STORE / --store', leaseSeconds: 'RAINOPS_LEASE_SECONDS' };
    throw new UsageError(`config: ${names[issue.path.join('.')] ?? issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
