import { statSync } from 'node:fs';
import type { Logger } from '../context.js';
import type { Registry } from '../../registry/index.js';

export interface RegistryFollower {
  /** The registry to read, or null while its file is missing. */
  current(): Registry | null;
  /**
   * Looks at the registry's path: when another file took its place (a rename, a restored backup), closes
   * the old one and opens the new one. Returns why the registry cannot be followed now, or null.
   */
  check(): Promise<string | null>;
  /** Closes the registry this follower opened, if any (the first one is its caller's, who closes it). */
  close(): Promise<void>;
}

type Identity = { dev: number; ino: number };

function identityOf(file: string): Identity | null {
  try {
    const st = statSync(file);
    return { dev: st.dev, ino: st.ino };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Follows a registry file by path. SQLite keeps reading the file it opened, even once it was renamed over
 * or deleted; a server following an alias would then follow a registry nobody writes any more. When the
 * file is replaced, `first` is closed too (closing twice is harmless).
 */
export function followRegistryFile(
  first: Registry,
  deps: { open(file: string): Promise<Registry>; logger: Logger },
): RegistryFollower {
  const file = first.file;
  // An in-memory registry (tests) has no file to follow, and a database server is not a file.
  if (first.backend !== 'sqlite' || file === ':memory:' || file === '') {
    return { current: () => first, check: async () => null, close: async () => {} };
  }
  let registry: Registry | null = first;
  let identity = identityOf(file);
  let reported = '';

  const report = (problem: string, log: (m: string) => void = (m) => deps.logger.warn(m)): string => {
    if (problem !== reported) log(problem);
    reported = problem;
    return problem;
  };

  return {
    current: () => registry,
    async check() {
      let now: Identity | null;
      try {
        now = identityOf(file);
      } catch (err) {
        return report(`cannot look at the registry file ${file}: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (now === null)
        return report(`the registry file ${file} was removed; not following the alias until it is back`);
      if (identity && now.dev === identity.dev && now.ino === identity.ino) {
        if (reported) deps.logger.info(`the registry file ${file} is readable again`);
        reported = '';
        return null;
      }
      // The old file's write-ahead log keeps its name, and SQLite would read it as the new file's: empty it
      // (through the connection to the old file) and close that connection, even the caller's, first.
      try {
        await registry?.checkpoint();
      } catch {
        // Busy or read-only: the new file may then read stale pages until the next writer checkpoints.
      }
      await registry?.close();
      registry = null;
      try {
        registry = await deps.open(file);
        identity = now;
      } catch (err) {
        return report(
          `cannot open the registry file ${file}, which was replaced: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      reported = '';
      deps.logger.info(`the registry file ${file} was replaced; following the new one`);
      return null;
    },
    async close() {
      if (registry !== first) await registry?.close();
    },
  };
}
