import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { parseRegistryLocation } from '../registry/url.js';
import type { RegistryLocation } from '../registry/url.js';
import { UsageError } from './errors.js';

const ConfigSchema = z.object({
  home: z.string().min(1),
  store: z.string().regex(/^(file|s3):\/\/.+/, { error: 'expected file:///ABSOLUTE/PATH or s3://BUCKET[/PREFIX]' }),
  source: z.string().min(1).optional(),
  /** How long a run or lock is held without a heartbeat (RAINOPS_LEASE_SECONDS). */
  leaseSeconds: z.coerce
    .number({ error: 'expected a number of seconds' })
    .positive({ error: 'expected a number of seconds above 0' })
    .optional(),
  /** The host name recorded on runs, locks and study trials (RAINOPS_HOST; default the machine's). */
  host: z.string().trim().min(1, { error: 'expected a host name' }).max(255).optional(),
});
export type Config = z.infer<typeof ConfigSchema> & {
  /** --registry / RAINOPS_REGISTRY: a SQLite file (default HOME/registry.db) or a PostgreSQL database. */
  registry: RegistryLocation;
};

/** One validated view of RAINOPS_* settings; flags win over the environment, and an empty variable counts as unset. */
export function loadConfig(
  env: Record<string, string | undefined>,
  cwd: string,
  flags: { home?: string | undefined; store?: string | undefined; registry?: string | undefined } = {},
): Config {
  if (flags.home !== undefined && flags.home.trim() === '') {
    throw new UsageError(
      'config: --home is empty; give the folder for the registry and store, e.g. --home ./.rainops, or leave the flag out',
    );
  }
  const homeRaw = flags.home ?? (env.RAINOPS_HOME || '.rainops');
  const home = isAbsolute(homeRaw) ? homeRaw : resolve(cwd, homeRaw);
  const parsed = ConfigSchema.safeParse({
    home,
    // Built as a URL so that a home with '#', '?' or '%' in its name stays one path.
    store: flags.store ?? (env.RAINOPS_STORE || pathToFileURL(join(home, 'store')).href),
    source: env.RAINOPS_SOURCE || undefined,
    leaseSeconds: env.RAINOPS_LEASE_SECONDS || undefined,
    host: env.RAINOPS_HOST || undefined,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const names: Record<string, string> = {
      store: 'RAINOPS_STORE / --store',
      leaseSeconds: 'RAINOPS_LEASE_SECONDS',
      host: 'RAINOPS_HOST',
    };
    throw new UsageError(`config: ${names[issue.path.join('.')] ?? issue.path.join('.')}: ${issue.message}`);
  }
  if (parsed.data.store.startsWith('file:')) fileUrlPath(parsed.data.store);
  const registry = parseRegistryLocation(flags.registry ?? (env.RAINOPS_REGISTRY || `${home}/registry.db`));
  return { ...parsed.data, registry };
}

/**
 * The folder a `file://` store URL names. Only the absolute form is accepted (file:///srv/store): a host,
 * a relative path (which a URL reads as a host), a query or a fragment would silently name another place.
 */
export function fileUrlPath(url: string): string {
  const fail = (why: string): never => {
    throw new UsageError(
      `store: ${url} ${why}; write file:// then an absolute path, e.g. file:///srv/rainops/store (percent-encode '?', '#' and '%' in folder names)`,
    );
  };
  if (!url.startsWith('file://') || url.length === 'file://'.length) fail('names no folder');
  if (url.includes('?')) fail('has a query');
  if (url.includes('#')) fail('has a fragment');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail('is not a valid URL');
  }
  if (parsed.host !== '') fail(`names the host '${parsed.host}' (a relative path reads as one)`);
  try {
    return fileURLToPath(parsed);
  } catch {
    return fail('has an escape that does not decode to a path');
  }
}
