import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openRegistry } from '../../src/registry/index.js';

/** PRAGMA integrity_check of a test home's registry ('ok' when sound). */
export function integrity(home: string): string {
  const db = new Database(join(home, '.rainops/registry.db'), { readonly: true });
  try {
    return (db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check;
  } finally {
    db.close();
  }
}

/** Polls until check() holds, or fails after ms. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** How many runs of a test home whose name starts with `prefix` are RUNNING now. */
export async function runningRuns(home: string, prefix: string): Promise<number> {
  const r = await openRegistry(join(home, '.rainops/registry.db'));
  try {
    return (await r.listRuns({ status: 'RUNNING' })).filter((x) => x.name.startsWith(prefix)).length;
  } finally {
    await r.close();
  }
}
