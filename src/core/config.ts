import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { UsageError } from './errors.js';

const ConfigSchema = z.object({
  home: z.string().min(1),
  store: z.string().regex(/^(file|s3):\/\/.+/, { error: 'expected file://PATH or s3://BUCKET[/PREFIX]' }),
  source: z.string().min(1).optional(),
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
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`config: ${issue.path.join('.') === 'store' ? 'RAINOPS_STORE / --store' : issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
