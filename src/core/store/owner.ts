import type { Registry } from '../../registry/index.js';
import { ConflictError, DataError, NotFoundError, UsageError } from '../errors.js';
import type { ArtifactStore } from './types.js';

/** The object at the root of a store that names the registry owning it. */
export const OWNER_KEY = 'rainops-store.json';

export interface StoreOwner {
  format: 1;
  registry_id: string;
  /** Where the owning registry lived when it claimed the store: a hint for people, not checked. */
  registry: string;
  hostname: string;
  claimed_at: string;
  /** The owner before `rainops store adopt`, when there was one. */
  adopted_from?: string | null;
}

/** Who is asking: the registry, plus where it runs (recorded in the owner file for people to read). */
export interface Claimant {
  registry: Registry;
  hostname: string;
  now: () => Date;
}

export async function readOwner(store: ArtifactStore): Promise<StoreOwner | null> {
  let bytes: Buffer;
  try {
    bytes = await store.get(OWNER_KEY);
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
  try {
    const owner = JSON.parse(bytes.toString('utf8')) as Partial<StoreOwner>;
    if (typeof owner.registry_id === 'string' && owner.registry_id !== '') return owner as StoreOwner;
  } catch {
    // Reported below, like a record without an id.
  }
  throw new DataError(
    `store ${store.url}: ${OWNER_KEY} is damaged (no registry_id); restore it, or make this registry the owner with 'rainops store adopt'`,
  );
}

/**
 * Published data sets and model bundles in the store that this registry does not know: a data set
 * with a manifest whose id is not registered, a bundle with metadata whose version is not registered
 * and whose run is not one of this registry's. Half-written sets are not counted (gc removes them).
 */
export async function foreignContents(store: ArtifactStore, registry: Registry): Promise<string[]> {
  const datasets = new Set((await registry.listDatasets()).map((d) => d.id));
  const versions = new Set<string>();
  for (const m of await registry.listModels()) {
    for (const v of await registry.listModelVersions(m.name)) versions.add(`${m.name}/${v.version}`);
  }
  const foreign: string[] = [];
  for (const key of await store.list('datasets/')) {
    const m = /^datasets\/([^/]+)\/manifest\.json$/.exec(key);
    if (m && !datasets.has(m[1]!)) foreign.push(`datasets/${m[1]}`);
  }
  for (const key of await store.list('models/')) {
    const m = /^models\/([^/]+)\/([^/]+)\/metadata\.json$/.exec(key);
    if (!m || versions.has(`${m[1]}/${m[2]}`)) continue;
    if (!(await writtenByThisRegistry(store, key, registry))) foreign.push(`models/${m[1]}/${m[2]}`);
  }
  return foreign;
}

/** The run of this registry with exactly this id (getRun also takes a unique prefix), or null. */
export async function exactRun(registry: Registry, runId: string): Promise<{ id: string; status: string } | null> {
  try {
    const run = await registry.getRun(runId);
    return run.id === runId ? run : null;
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof UsageError) return null;
    throw err;
  }
}

async function writtenByThisRegistry(store: ArtifactStore, metadataKey: string, registry: Registry): Promise<boolean> {
  try {
    const { runId } = JSON.parse((await store.get(metadataKey)).toString('utf8')) as { runId?: unknown };
    return typeof runId === 'string' && (await exactRun(registry, runId)) !== null;
  } catch {
    return false;
  }
}

const WAY_FORWARD =
  "point --home or RAINOPS_HOME at the registry that owns the store, or give this registry a store of its own with --store or RAINOPS_STORE; if that registry is gone for good, make this one the owner with 'rainops store adopt'";

function describeOwner(o: StoreOwner): string {
  return `registry ${o.registry_id}${o.registry ? ` (${o.registry}${o.hostname ? ` on ${o.hostname}` : ''})` : ''}`;
}

async function record(c: Claimant, previous: StoreOwner | null): Promise<StoreOwner> {
  return {
    format: 1,
    registry_id: await c.registry.registryId(),
    registry: c.registry.file,
    hostname: c.hostname,
    claimed_at: c.now().toISOString(),
    ...(previous ? { adopted_from: previous.registry_id } : {}),
  };
}

/**
 * Before the first write: the store must belong to this registry. A store without an owner record is
 * claimed (write-if-absent) unless it holds data sets or bundles this registry does not know.
 */
export async function ensureOwner(store: ArtifactStore, c: Claimant): Promise<void> {
  const me = await c.registry.registryId();
  const mine = `this registry (${c.registry.file}, id ${me})`;
  const owner = await readOwner(store);
  if (owner?.registry_id === me) return;
  if (owner) {
    throw new ConflictError(
      `store ${store.url} belongs to ${describeOwner(owner)}, not to ${mine}, so writing to it could overwrite that registry's data sets and model bundles; ${WAY_FORWARD}`,
    );
  }
  const foreign = await foreignContents(store, c.registry);
  if (foreign.length > 0) {
    const more = foreign.length > 3 ? ` and ${foreign.length - 3} more` : '';
    throw new ConflictError(
      `store ${store.url} records no owner but holds ${foreign.length} data set(s) or model bundle(s) that ${mine} does not know (${foreign.slice(0, 3).join(', ')}${more}): another registry wrote them; ${WAY_FORWARD}`,
    );
  }
  if ((await store.putIfAbsent(OWNER_KEY, `${JSON.stringify(await record(c, null), null, 1)}\n`)) === null) {
    // Another registry claimed it between our read and our write.
    const winner = await readOwner(store);
    if (winner?.registry_id !== me) return ensureOwner(store, c);
  }
}

/** Makes this registry the store's owner, whoever owned it before; returns the previous owner and what this registry does not know. */
export async function adoptStore(
  store: ArtifactStore,
  c: Claimant,
): Promise<{ previous: StoreOwner | null; owner: StoreOwner; foreign: string[] }> {
  const previous = await readOwner(store).catch((err: unknown) => {
    if (err instanceof DataError) return null;
    throw err;
  });
  const foreign = await foreignContents(store, c.registry);
  const owner = await record(c, previous);
  await store.put(OWNER_KEY, `${JSON.stringify(owner, null, 1)}\n`);
  return { previous, owner, foreign };
}

/** The store with every write held until `check` (the ownership check, run once) has passed. */
export function guardWrites(store: ArtifactStore, check: () => Promise<void>): ArtifactStore {
  return {
    url: store.url,
    get: (key) => store.get(key),
    stream: (key) => store.stream(key),
    exists: (key) => store.exists(key),
    list: (prefix) => store.list(prefix),
    listEntries: (prefix) => store.listEntries(prefix),
    put: async (key, body) => {
      await check();
      return store.put(key, body);
    },
    putIfAbsent: async (key, body) => {
      await check();
      return store.putIfAbsent(key, body);
    },
    putFile: async (key, path) => {
      await check();
      return store.putFile(key, path);
    },
    publish: async (staging, final, marker) => {
      await check();
      return store.publish(staging, final, marker);
    },
    removePrefix: async (prefix) => {
      await check();
      return store.removePrefix(prefix);
    },
  };
}

/** Runs fn once; later calls share its promise (a failure stays a failure). */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}
