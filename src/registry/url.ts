import { UsageError } from '../errors.js';

/** Where a registry lives: a SQLite file, or a PostgreSQL database given as a libpq URL. */
export type RegistryLocation = { backend: 'sqlite'; file: string } | { backend: 'postgresql'; url: string };

export type BackendName = RegistryLocation['backend'];

/**
 * Reads `--registry` / RAINOPS_REGISTRY: `sqlite://PATH` or a plain path (kept as given), or
 * `postgres://...` / `postgresql://...` (the PG* environment variables fill in what the URL leaves out).
 */
export function parseRegistryLocation(text: string): RegistryLocation {
  const trimmed = text.trim();
  if (trimmed === '') throw new UsageError('the registry location is empty; give sqlite://PATH or postgres://HOST/DB');
  if (/^postgres(ql)?:\/\//i.test(trimmed)) return { backend: 'postgresql', url: trimmed };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(trimmed)?.[1];
  if (scheme !== undefined && scheme.toLowerCase() !== 'sqlite') {
    throw new UsageError(
      `registry ${redactUrl(trimmed)} uses ${scheme}://, which rainops cannot use; give sqlite://PATH or postgres://USER@HOST:PORT/DB`,
    );
  }
  const file = scheme === undefined ? trimmed : trimmed.slice('sqlite://'.length);
  if (file === '') throw new UsageError('sqlite:// needs a path, e.g. sqlite://.rainops/registry.db');
  return { backend: 'sqlite', file };
}

/**
 * The URL with any password replaced by `***`, for every message, log line and record: credentials never
 * leave the process. Text that is not a URL is returned with anything between `//` and `@` masked.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/([^/@]*):[^/@]*@/, '//$1:***@');
  }
}

/** How a location is shown to people: the path of a file, the redacted URL of a database. */
export function describeLocation(location: RegistryLocation): string {
  return location.backend === 'sqlite' ? location.file : redactUrl(location.url);
}
