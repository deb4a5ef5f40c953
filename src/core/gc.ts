import { BUNDLE_FILES } from './bundle/bundle.js';
import type { CoreDeps } from './context.js';
import { exactRun } from './store/owner.js';
import { STAGING } from './store/staging.js';
import type { ArtifactStore, StoreEntry } from './store/types.js';

export interface GcOptions {
  dryRun: boolean;
  /** Anything written more recently than this is kept. */
  graceHours: number;
}

export type GcKind = 'staging' | 'dataset' | 'bundle';

export interface GcItem {
  kind: GcKind;
  /** The store prefix removed (or that would be), e.g. `models/Rain_dataset_model_prod/3`. */
  prefix: string;
  objects: number;
  bytes: number;
  /** Newest write under the prefix. */
  modified: string;
  age_hours: number;
  reason: string;
}

export interface GcResult {
  store: string;
  dry_run: boolean;
  grace_hours: number;
  /** Removed, or with --dry-run what would be removed. */
  removed: GcItem[];
  /** Garbage kept for now: younger than the grace period, or a running run may still need it. */
  kept: GcItem[];
  bytes_removed: number;
}

interface Group {
  kind: GcKind;
  prefix: string;
  entries: StoreEntry[];
}

const MANIFEST = 'manifest.json';

/** The set a key belongs to: a run's staging, a data set, or a model version's bundle. */
function groupOf(key: string): { kind: GcKind; prefix: string } | null {
  const p = key.split('/');
  if (p[0] === STAGING && p.length > 2) return { kind: 'staging', prefix: `${STAGING}/${p[1]}` };
  if (p[0] === 'datasets' && p.length > 2) return { kind: 'dataset', prefix: `datasets/${p[1]}` };
  if (p[0] === 'models' && p.length > 3) return { kind: 'bundle', prefix: `models/${p[1]}/${p[2]}` };
  return null;
}

async function groups(store: ArtifactStore): Promise<Group[]> {
  const byPrefix = new Map<string, Group>();
  for (const top of [`${STAGING}/`, 'datasets/', 'models/']) {
    for (const e of await store.listEntries(top)) {
      const g = groupOf(e.key);
      if (!g) continue;
      const group = byPrefix.get(g.prefix) ?? { ...g, entries: [] };
      group.entries.push(e);
      byPrefix.set(g.prefix, group);
    }
  }
  return [...byPrefix.values()];
}

/** Which kinds of writers are running now (in this registry). */
interface Running {
  etl: boolean;
  training: boolean;
}

/** Why a group is garbage (null: it is not), and whether a running run may still be about to use it. */
async function judge(
  g: Group,
  deps: CoreDeps,
  known: { datasets: Set<string>; versions: Set<string> },
  running: Running,
): Promise<{ reason: string; inUse: boolean } | null> {
  const { registry, store } = deps;
  const has = (name: string) => g.entries.some((e) => e.key === `${g.prefix}/${name}`);
  if (g.kind === 'staging') {
    const runId = g.prefix.slice(STAGING.length + 1);
    const run = await exactRun(registry, runId);
    if (run?.status === 'RUNNING') return { reason: `staging of run ${runId}, which is still running`, inUse: true };
    return {
      reason: `staging of ${run ? `run ${runId} (${run.status})` : `unknown run ${runId}`}, never published`,
      inUse: false,
    };
  }
  if (g.kind === 'dataset') {
    const id = g.prefix.slice('datasets/'.length);
    if (known.datasets.has(id)) return null;
    // Nothing in a data set names its run: while an etl runs, an unregistered one may be its own, being
    // published (on S3 the files land before the manifest) or about to be registered.
    if (!has(MANIFEST))
      return { reason: `data set ${id}: files without ${MANIFEST}, never published`, inUse: running.etl };
    return { reason: `data set ${id} is not registered`, inUse: running.etl };
  }
  const [, model, version] = g.prefix.split('/');
  if (known.versions.has(`${model}/${version}`)) return null;
  if (!has(BUNDLE_FILES.metadata))
    return {
      reason: `bundle of ${model} v${version}: files without ${BUNDLE_FILES.metadata}, never published`,
      inUse: running.training,
    };
  const runId = await store
    .get(`${g.prefix}/${BUNDLE_FILES.metadata}`)
    .then((b) => (JSON.parse(b.toString('utf8')) as { runId?: unknown }).runId)
    .catch(() => undefined);
  const run = typeof runId === 'string' ? await exactRun(registry, runId) : null;
  if (run?.status === 'RUNNING')
    return { reason: `bundle of ${model} v${version}: its run ${run.id} is still running`, inUse: true };
  return {
    reason: `bundle of ${model} v${version} is not a registered version${run ? ` (run ${run.id} ${run.status})` : ''}`,
    inUse: false,
  };
}

/**
 * Lists, and unless `dryRun` removes, what no registered data set or model version uses: staging left
 * by runs that failed or were killed, data sets never registered, bundles never registered as versions.
 * Only what is older than the grace period goes; the store must belong to this registry.
 */
export async function gc(opts: GcOptions, deps: CoreDeps): Promise<GcResult> {
  const { registry, store, logger } = deps;
  await deps.claimStore?.();
  const now = (deps.now?.() ?? new Date()).getTime();
  const known = {
    datasets: new Set((await registry.listDatasets()).map((d) => d.id)),
    versions: new Set<string>(),
  };
  for (const m of await registry.listModels()) {
    for (const v of await registry.listModelVersions(m.name)) known.versions.add(`${m.name}/${v.version}`);
  }
  const names = new Set((await registry.listRuns({ status: 'RUNNING', topLevelOnly: true })).map((r) => r.name));
  const running: Running = { etl: names.has('etl'), training: names.has('optimize') || names.has('retrain') };
  const removed: GcItem[] = [];
  const kept: GcItem[] = [];
  for (const g of await groups(store)) {
    const verdict = await judge(g, deps, known, running);
    if (!verdict) continue;
    const newest = Math.max(...g.entries.map((e) => e.modified.getTime()));
    const ageHours = Math.max(0, (now - newest) / 3_600_000);
    const item: GcItem = {
      kind: g.kind,
      prefix: g.prefix,
      objects: g.entries.length,
      bytes: g.entries.reduce((a, e) => a + e.size, 0),
      modified: new Date(newest).toISOString(),
      age_hours: Math.round(ageHours * 100) / 100,
      reason: verdict.reason,
    };
    if (verdict.inUse || ageHours < opts.graceHours) {
      kept.push(item);
      continue;
    }
    if (!opts.dryRun) {
      await store.removePrefix(g.prefix);
      logger.info(`removed ${store.url}/${g.prefix}: ${verdict.reason}`);
    }
    removed.push(item);
  }
  return {
    store: store.url,
    dry_run: opts.dryRun,
    grace_hours: opts.graceHours,
    removed,
    kept,
    bytes_removed: removed.reduce((a, i) => a + i.bytes, 0),
  };
}
