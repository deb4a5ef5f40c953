import type { Predictor } from '../bundle/predictor.js';
import type { Logger } from '../context.js';
import { clockOf } from '../context.js';
import { NotFoundError } from '../errors.js';
import { loadPredictor } from '../registration.js';
import type { ArtifactStore } from '../store/types.js';
import { openRegistry } from '../../registry/index.js';
import type { AliasMove, Registry, StopWatching } from '../../registry/index.js';
import type { ServerMetrics } from './metrics.js';
import { followRegistryFile } from './registry-follower.js';

/** What GET /model answers. */
export interface ModelInfo {
  name: string;
  version: number;
  alias: string;
  kind: string;
  threshold: number;
  metrics: Record<string, number>;
  params: Record<string, unknown>;
  dataset: string;
  run_id: string;
  engine: string;
  created_at: string;
  loaded_at: string;
}

/** A loaded version. Immutable: a request keeps the one it started with, whatever is swapped in meanwhile. */
export interface LoadedModel {
  readonly predictor: Predictor;
  readonly version: number;
  /** `{name, version}` as every prediction response carries it. */
  readonly ref: { readonly name: string; readonly version: number };
  /** `ref` as JSON text, written once. */
  readonly refJson: string;
  readonly info: ModelInfo;
}

export type RefreshOutcome =
  | { status: 'unchanged' | 'loaded'; version: number; previous: number | null }
  | { status: 'failed'; version: number; previous: number | null; error: string }
  | { status: 'skipped'; version: number | null; previous: number | null; reason: string };

export interface ModelHolder {
  readonly model: string;
  readonly alias: string;
  /** The model serving now, or null before the first load. */
  current(): LoadedModel | null;
  /** Why the model serving is not (or may not be) the one the alias points at; null when it is. */
  problem(): string | null;
  /** Loads the alias's version; throws (NotFoundError, IntegrityError) when there is none to serve. */
  init(): Promise<LoadedModel>;
  /** Looks at the alias once and swaps in its version when it moved; never throws. `force` retries a failed version at once. */
  refresh(opts?: { force?: boolean }): Promise<RefreshOutcome>;
  /**
   * Starts following the alias (a no-op when pollMs is 0): polling every pollMs and, where the registry announces moves
   * (PostgreSQL), a refresh as soon as one is announced. Resolves once it listens (or could not, and polls).
   */
  start(): Promise<void>;
  /** Stops following; waits for a load in progress. */
  stop(): Promise<void>;
}

export interface ModelHolderOptions {
  model: string;
  alias: string;
  /** How often to look at the alias; 0 follows nothing. */
  pollMs: number;
  /** Longest wait before trying a version that failed to load again. */
  maxRetryMs?: number;
}

export interface ModelHolderDeps {
  registry: Registry;
  store: ArtifactStore;
  logger: Logger;
  metrics?: ServerMetrics;
  now?: () => Date;
  /** Loads a version (defaults to the verified bundle through loadPredictor); tests slow it down. */
  load?: (version: number) => Promise<Predictor>;
  /**
   * Opens the registry file again when another file took its place (defaults to openRegistry); the
   * registry given above is closed then.
   */
  openRegistry?: (file: string) => Promise<Registry>;
}

/** Fails with a sentence when the registry cannot serve MODEL@ALIAS. */
export async function checkServable(registry: Registry, model: string, alias: string): Promise<number> {
  if (!(await registry.listModels()).some((m) => m.name === model)) {
    throw new NotFoundError(
      `no model named ${model} in the registry ${registry.file}; train one with 'rainops optimize' (or pick another with --model)`,
    );
  }
  const version = await registry.getAlias(model, alias);
  if (version === null) {
    throw new NotFoundError(
      `model ${model} has no alias ${alias}; point it with 'rainops promote ${model} VERSION --alias ${alias}' (or pick another with --alias)`,
    );
  }
  return version;
}

export function createModelHolder(opts: ModelHolderOptions, deps: ModelHolderDeps): ModelHolder {
  const { model, alias, pollMs } = opts;
  const maxRetryMs = opts.maxRetryMs ?? 300_000;
  const now = clockOf(deps);
  const follower = followRegistryFile(deps.registry, {
    open: deps.openRegistry ?? ((file) => openRegistry(file)),
    logger: deps.logger,
  });
  const registry = () => follower.current() ?? deps.registry;
  const load = deps.load ?? ((version: number) => loadPredictor(registry(), deps.store, model, version));
  let current: LoadedModel | null = null;
  let problem: string | null = null;
  let inFlight: Promise<RefreshOutcome> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  // A version that failed: not retried on every poll (that would log and count every 2 s), but with a growing wait.
  let failed: { version: number; attempts: number; retryAt: number } | null = null;
  let lastWarning = '';
  // Set while the alias watch's connection is down: the registry cannot be reached.
  let watchProblem: string | null = null;
  let pollFailed = false;
  let watching: Promise<StopWatching | null> | null = null;
  // A move announced while a look was already under way (it may have read the alias before the move): look again.
  let again = false;

  const reportReachable = () => deps.metrics?.registryReachable(watchProblem === null && !pollFailed);

  const warnOnce = (message: string) => {
    if (message !== lastWarning) deps.logger.warn(message);
    lastWarning = message;
  };

  const wrap = (predictor: Predictor): LoadedModel => {
    const m = predictor.bundle.metadata;
    const ref = Object.freeze({ name: predictor.model, version: predictor.version });
    return {
      predictor,
      version: predictor.version,
      ref,
      refJson: JSON.stringify(ref),
      info: {
        name: predictor.model,
        version: predictor.version,
        alias,
        kind: m.kind,
        threshold: predictor.threshold,
        metrics: m.metrics,
        params: m.params,
        dataset: m.datasetId,
        run_id: m.runId,
        engine: m.engine,
        created_at: m.createdAt,
        loaded_at: now().toISOString(),
      },
    };
  };

  const swapIn = (predictor: Predictor, isReload: boolean): LoadedModel => {
    const loaded = wrap(predictor);
    current = loaded;
    failed = null;
    problem = null;
    lastWarning = '';
    deps.metrics?.modelLoaded({ model, alias, version: loaded.version, engine: loaded.info.engine }, isReload);
    return loaded;
  };

  const check = async (force: boolean): Promise<RefreshOutcome> => {
    const previous = current?.version ?? null;
    const serving = `still serving v${String(previous)}`;
    const fileProblem = await follower.check();
    if (fileProblem !== null) {
      problem = `${fileProblem}; ${serving}`;
      return { status: 'skipped', version: null, previous, reason: fileProblem };
    }
    let version: number | null;
    try {
      version = await registry().getAlias(model, alias);
      pollFailed = false;
      reportReachable();
    } catch (err) {
      const reason = `could not read alias ${alias} of ${model}: ${err instanceof Error ? err.message : String(err)}`;
      problem = `${reason}; ${serving}`;
      pollFailed = true;
      reportReachable();
      warnOnce(problem);
      return { status: 'skipped', version: null, previous, reason };
    }
    if (version === null) {
      const reason = `alias ${alias} of ${model} was removed`;
      problem = `${reason}; ${serving}`;
      warnOnce(problem);
      return { status: 'skipped', version, previous, reason };
    }
    if (version === previous) {
      problem = null;
      return { status: 'unchanged', version, previous };
    }
    if (!force && failed?.version === version && now().getTime() < failed.retryAt) {
      return {
        status: 'skipped',
        version,
        previous,
        reason: `v${version} failed to load; next try after ${new Date(failed.retryAt).toISOString()}`,
      };
    }
    try {
      const predictor = await load(version);
      if (stopped) return { status: 'skipped', version, previous, reason: 'stopped while loading' };
      swapIn(predictor, true);
      deps.logger.info(
        `alias ${alias} of ${model} moved from v${String(previous)} to v${version}: now serving v${version}`,
      );
      return { status: 'loaded', version, previous };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      const attempts = failed?.version === version ? failed.attempts + 1 : 1;
      const wait = Math.min(maxRetryMs, Math.max(pollMs, 1000) * 2 ** attempts);
      failed = { version, attempts, retryAt: now().getTime() + wait };
      problem = `alias ${alias} points at v${version}, which could not be loaded (${error}); ${serving}`;
      deps.metrics?.reloadFailed();
      deps.logger.warn(
        `could not load ${model} v${version} (alias ${alias}): ${error}; ${serving}, next try in ${Math.round(wait / 1000)} s`,
      );
      return { status: 'failed', version, previous, error };
    }
  };

  const refresh = (opts: { force?: boolean } = {}): Promise<RefreshOutcome> => {
    // One load at a time: a poll that finds one running waits for it instead of starting another.
    inFlight ??= check(opts.force ?? false).finally(() => {
      inFlight = null;
      if (again && !stopped) {
        again = false;
        void refresh();
      }
    });
    return inFlight;
  };

  const onMove = (move: AliasMove | null) => {
    if (stopped || (move && (move.model !== model || move.alias !== alias))) return;
    if (inFlight) again = true;
    else void refresh();
  };

  const onReachable = (why: string | null) => {
    watchProblem = why;
    reportReachable();
    if (why) deps.logger.warn(`the registry is unreachable (${why}); still serving v${String(current?.version)}`);
    else deps.logger.info('the registry is reachable again');
  };

  const watch = async (): Promise<StopWatching | null> => {
    try {
      const unwatch = (await registry().watchAliases?.({ change: onMove, reachable: onReachable })) ?? null;
      // A move between the first load and the LISTEN was announced to nobody.
      if (unwatch) onMove(null);
      return unwatch;
    } catch (err) {
      deps.logger.warn(
        `cannot listen for alias moves (${err instanceof Error ? err.message : String(err)}); polling only`,
      );
      return null;
    }
  };

  const schedule = () => {
    if (stopped || pollMs <= 0) return;
    timer = setTimeout(() => {
      void refresh().finally(schedule);
    }, pollMs);
    timer.unref();
  };

  return {
    model,
    alias,
    current: () => current,
    problem: () =>
      watchProblem === null
        ? problem
        : `the registry is unreachable (${watchProblem}); still serving v${String(current?.version)}`,
    async init() {
      const version = await checkServable(registry(), model, alias);
      return swapIn(await load(version), false);
    },
    refresh,
    async start() {
      if (timer === null) schedule();
      // pollMs 0 (serve --poll 0) follows nothing, announced moves included.
      if (pollMs > 0) watching ??= watch();
      await watching;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      const unwatch = await watching;
      await unwatch?.();
      if (inFlight) await inFlight;
      await follower.close();
    },
  };
}
