import type { Registry } from '../registry/index.js';
import { moveAlias } from './aliases.js';
import { BUNDLE_FILES, bundlePrefix, readBundle, writeBundle } from './bundle/bundle.js';
import type { Bundle, BundleMetadata } from './bundle/bundle.js';
import { createPredictor } from './bundle/predictor.js';
import type { Predictor } from './bundle/predictor.js';
import { CHAMPION_ALIAS } from './context.js';
import { loadRawTest, trainingKeys } from './dataset/load.js';
import { ConflictError, NotFoundError, RainopsError } from './errors.js';
import { classificationMetrics } from './evaluation/metrics.js';
import type { InputsPipeline } from './features/pipeline.js';
import type { TreeEnsemble } from './models/trees.js';
import { exactRun } from './store/owner.js';
import { stagingPrefix } from './store/staging.js';
import type { ArtifactStore } from './store/types.js';

export type PromotePolicy = 'if-better' | 'always' | 'never';

export interface NewVersion {
  model: string;
  runId: string;
  datasetId: string;
  kind: BundleMetadata['kind'];
  trees: TreeEnsemble;
  pipeline: InputsPipeline;
  engineModel: { file: string; bytes: Uint8Array } | null;
  threshold: number;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
  engine: string;
  libraries: Record<string, string>;
  /** When the version is made, from the caller's clock. */
  createdAt: Date;
}

/**
 * Uploads the bundle to this run's staging, publishes it at `models/<model>/<version>/` (never over
 * anything) and then records the version: the registry row appears only once every file is stored.
 * The caller holds the model's lock, so the next version number is ours to use.
 */
export async function registerVersion(
  registry: Registry,
  store: ArtifactStore,
  v: NewVersion,
): Promise<{ version: number; uri: string }> {
  const exists = (await registry.listModels()).some((m) => m.name === v.model);
  const latest = exists ? ((await registry.listModelVersions(v.model))[0]?.version ?? 0) : 0;
  const version = latest + 1;
  const prefix = bundlePrefix(v.model, version);
  const uri = `${store.url}/${prefix}`;
  await clearOwnLeftover(registry, store, v.model, version);
  const staging = stagingPrefix(v.runId, prefix);
  let sha256: string;
  try {
    ({ sha256 } = await writeBundle(store, staging, {
      trees: v.trees,
      pipeline: v.pipeline,
      engineModel: v.engineModel,
      metadata: {
        model: v.model,
        version,
        kind: v.kind,
        featureNames: v.trees.featureNames,
        threshold: v.threshold,
        params: v.params,
        datasetId: v.datasetId,
        runId: v.runId,
        metrics: v.metrics,
        engine: v.engine,
        libraries: v.libraries,
        createdAt: v.createdAt.toISOString(),
      },
    }));
    await readBundle(store, staging, sha256, `${v.model} v${version}`);
    if ((await store.publish(staging, prefix, BUNDLE_FILES.metadata)) === 'exists')
      throw bundleConflict(uri, v.model, version);
  } catch (err) {
    await store.removePrefix(staging).catch(() => undefined);
    throw err;
  }
  let created: { version: number };
  try {
    created = await registry.createModelVersion({
      model: v.model,
      runId: v.runId,
      datasetId: v.datasetId,
      bundleUri: uri,
      bundleSha256: sha256,
      engine: v.engine,
      params: { ...v.params, threshold: v.threshold },
      metrics: v.metrics,
    });
  } catch (err) {
    // Published by this run a moment ago and registered by nobody: removing it leaves no orphan.
    await store.removePrefix(prefix).catch(() => undefined);
    throw err;
  }
  if (created.version !== version) {
    throw new RainopsError(
      `registry: ${v.model} v${version} was registered as v${created.version}; another process registered a version without holding the model lock`,
    );
  }
  return { version, uri };
}

function bundleConflict(uri: string, model: string, version: number): ConflictError {
  return new ConflictError(
    `the store already holds a bundle at ${uri}: another registry uses this store (or wrote there before this one), and this registry's next version of ${model} is v${version}; nothing was overwritten. ` +
      `Point --home or RAINOPS_HOME at the registry that wrote it, or give this registry its own --store; if nothing uses that bundle, 'rainops gc' removes it once it is older than the grace period`,
  );
}

/**
 * Before version N is written, the store must hold nothing at its key. What is there may only be
 * removed when it is this registry's own leftover: a bundle never published (no metadata.json), or one
 * whose run is a finished or failed run of this registry that never got to register it.
 */
async function clearOwnLeftover(
  registry: Registry,
  store: ArtifactStore,
  model: string,
  version: number,
): Promise<void> {
  const prefix = bundlePrefix(model, version);
  if ((await store.list(`${prefix}/`)).length === 0) return;
  let runId: unknown;
  try {
    ({ runId } = JSON.parse((await store.get(`${prefix}/${BUNDLE_FILES.metadata}`)).toString('utf8')) as {
      runId?: unknown;
    });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    // Files without the marker were never published, so no reader uses them.
    await store.removePrefix(prefix);
    return;
  }
  const run = typeof runId === 'string' ? await exactRun(registry, runId) : null;
  if (run === null || run.status === 'RUNNING') throw bundleConflict(`${store.url}/${prefix}`, model, version);
  await store.removePrefix(prefix);
}

/** Loads and verifies a registered version's bundle. */
export async function loadVersion(
  registry: Registry,
  store: ArtifactStore,
  model: string,
  version: number,
): Promise<Bundle> {
  const mv = await registry.getModelVersion(model, version);
  const prefix = bundlePrefix(model, version);
  return readBundle(store, prefix, mv.bundleSha256, `${model} v${version}`);
}

export async function loadPredictor(
  registry: Registry,
  store: ArtifactStore,
  model: string,
  aliasOrVersion: string | number,
): Promise<Predictor> {
  const version = typeof aliasOrVersion === 'number' ? aliasOrVersion : await registry.getAlias(model, aliasOrVersion);
  if (version === null) {
    throw new NotFoundError(
      `model ${model} has no alias ${String(aliasOrVersion)}; train one with 'rainops optimize' or point the alias with 'rainops promote ${model} VERSION'`,
    );
  }
  return createPredictor(await loadVersion(registry, store, model, version));
}

export interface HeadToHead {
  championF1: number;
  challengerF1: number;
  rows: number;
  excluded: number;
}

/**
 * Scores champion and challenger on the same raw test rows of a data set, each through its own fitted
 * pipeline, leaving out the rows the champion trained on (an earlier data set's training rows can be a
 * later one's test rows).
 */
export async function headToHead(
  store: ArtifactStore,
  datasetId: string,
  champion: Predictor,
  challenger: Predictor,
): Promise<HeadToHead> {
  const raw = await loadRawTest(store, datasetId);
  const seen =
    champion.bundle.metadata.datasetId === datasetId
      ? new Set<string>()
      : await trainingKeys(store, champion.bundle.metadata.datasetId);
  const keep = raw.rows.flatMap((r, i) => (seen.has(`${r.Date}|${r.Location}`) ? [] : [i]));
  const rows = keep.map((i) => raw.rows[i]!);
  const y = Float32Array.from(keep, (i) => raw.y[i]!);
  const f1 = (p: Predictor) => classificationMetrics(y, p.probabilities(rows), p.threshold).f1;
  return {
    championF1: f1(champion),
    challengerF1: f1(challenger),
    rows: rows.length,
    excluded: raw.rows.length - rows.length,
  };
}

export interface PromotionDecision {
  alias: string | null;
  previous: number | null;
  reason: string;
  championF1: number | null;
}

/**
 * Why a version may not take an alias implicitly, or null when it may: the run that created it has
 * FAILED (it registered the version and then died, or was declared dead), so nothing vouches for it.
 */
export async function failedRunReason(registry: Registry, model: string, version: number): Promise<string | null> {
  const mv = await registry.getModelVersion(model, version);
  if (mv.runStatus !== 'FAILED') return null;
  return `v${version}'s run ${mv.runId} FAILED, and a version of a failed run is never promoted implicitly; check it, then promote it by hand with 'rainops promote ${model} ${version}' if it is sound`;
}

export type ChampionMove = { promoted: true } | { promoted: false; reason: string };

/**
 * Moves the champion alias to a version a training run just made: never a version whose run FAILED, and
 * another process moving the alias first (compare-and-set against `expected`) is an answer, not an error.
 */
export async function promoteChampion(
  registry: Registry,
  args: { model: string; version: number; expected: number | null; actor: string; reason: string },
): Promise<ChampionMove> {
  const failed = await failedRunReason(registry, args.model, args.version);
  if (failed) return { promoted: false, reason: failed };
  try {
    await moveAlias(registry, { ...args, alias: CHAMPION_ALIAS });
    return { promoted: true };
  } catch (err) {
    if (err instanceof ConflictError) return { promoted: false, reason: err.message };
    throw err;
  }
}

/** Applies optimize's promotion policy; the alias moves compare-and-set against what was seen before training. */
export async function promote(
  registry: Registry,
  store: ArtifactStore,
  args: {
    model: string;
    version: number;
    datasetId: string;
    policy: PromotePolicy;
    expected: number | null;
    actor: string;
  },
): Promise<PromotionDecision> {
  const { model, version, policy, expected } = args;
  if (policy === 'never') return { alias: null, previous: expected, reason: '--promote never', championF1: null };
  // Checked before the head-to-head too: a failed run's version is not worth scoring.
  const failed = await failedRunReason(registry, model, version);
  if (failed) return { alias: null, previous: expected, reason: failed, championF1: null };
  let championF1: number | null = null;
  let reason = expected === null ? 'first version of the model' : '--promote always';
  if (policy === 'if-better' && expected !== null) {
    const h = await headToHead(
      store,
      args.datasetId,
      await loadPredictor(registry, store, model, expected),
      await loadPredictor(registry, store, model, version),
    );
    championF1 = h.championF1;
    const rows = `on the same ${h.rows} test rows${h.excluded ? ` (${h.excluded} the champion trained on left out)` : ''}`;
    if (!(h.challengerF1 > h.championF1)) {
      return {
        alias: null,
        previous: expected,
        reason: `test F1 ${h.challengerF1.toFixed(4)} does not beat the champion v${expected}'s ${h.championF1.toFixed(4)} ${rows}`,
        championF1,
      };
    }
    reason = `test F1 ${h.challengerF1.toFixed(4)} beats the champion v${expected}'s ${h.championF1.toFixed(4)} ${rows}`;
  }
  const move = await promoteChampion(registry, { model, version, expected, actor: args.actor, reason });
  return move.promoted
    ? { alias: CHAMPION_ALIAS, previous: expected, reason, championF1 }
    : { alias: null, previous: expected, reason: move.reason, championF1 };
}
