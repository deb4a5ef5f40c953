import { setTimeout as sleep } from 'node:timers/promises';
import type { Dataset, Study } from '../registry/index.js';
import { CHAMPION_ALIAS, EXPERIMENT } from './context.js';
import { loadDatasetMatrices } from './dataset/load.js';
import type { DatasetMatrices } from './dataset/load.js';
import { resolveDataset } from './dataset/resolve.js';
import { RainopsError, UsageError } from './errors.js';
import type { MetricName } from './evaluation/metrics.js';
import { loadEngine } from './models/engine.js';
import type { XgbEngine } from './models/engine.js';
import type { XgbParamsInput } from './models/params.js';
import { refitBest, registerAndPromote, trialOfRun } from './optimize.js';
import type { OptimizeDeps, OptimizeOptions, OptimizeResult, StudyReport } from './optimize.js';
import { tracked } from './tracking.js';
import { foldJobs, withFoldPool } from './training/flow.js';
import type { FoldSetup } from './training/flow.js';
import { chooseSearch, defaultTrials } from './tuning/halving.js';
import type { SearchKind } from './tuning/halving.js';
import { runSearch, trialsInFlight } from './tuning/search.js';
import type { SearchProgress } from './tuning/search.js';
import { gridCandidates, randomCandidates } from './tuning/space.js';

/** The options of optimize a study fixes, each with the flag that sets it. */
const STUDY_SETTINGS = {
  model: { option: 'model', flag: '--name' },
  dataset_id: { option: 'dataset', flag: '--dataset' },
  search: { option: 'search', flag: '--search' },
  grid: { option: 'grid', flag: '--grid' },
  trials: { option: 'trials', flag: '--trials' },
  cv: { option: 'cv', flag: '--cv' },
  metric: { option: 'metric', flag: '--metric' },
  seed: { option: 'seed', flag: '--seed' },
  early_stopping_rounds: { option: 'earlyStoppingRounds', flag: '--early-stopping' },
  promote: { option: 'promote', flag: '--promote' },
} as const satisfies Record<string, { option: keyof OptimizeOptions; flag: string }>;

type SettingKey = keyof typeof STUDY_SETTINGS;
/** The optimize options a user can set that a study fixes. */
export type StudyOption = (typeof STUDY_SETTINGS)[SettingKey]['option'];

export interface StudyOptions {
  study: string;
  /** The options the user set on the command line: on joining, each must agree with the study. */
  given: ReadonlySet<StudyOption>;
  /** How often a worker with nothing to claim looks again (default 1 s). */
  pollMs?: number;
}

/** What every worker must agree on, as the study records it. */
function settingsOf(
  opts: OptimizeOptions,
  datasetId: string,
  rows: number,
  existing: Study | null,
  given: ReadonlySet<StudyOption>,
): Record<string, string> {
  if (opts.kind !== 'xgboost') throw new UsageError('--study runs an XGBoost search; leave out --model cart');
  if (opts.resume)
    throw new UsageError('--study and --resume do not go together: a study resumes by itself when run again');
  if (opts.timeoutSec) throw new UsageError('--study and --timeout do not go together: every trial of a study runs');
  // a joiner that names no search takes the study's
  const search =
    existing && !given.has('search') ? (existing.settings.search as SearchKind) : chooseSearch(opts.search, rows);
  if (search === 'halving')
    throw new UsageError(
      '--study shares a grid or random search; successive halving is not shared yet, so give --search grid or --search random',
    );
  return {
    model: opts.model,
    dataset_id: datasetId,
    search,
    ...(search === 'grid' ? { grid: opts.grid } : { trials: String(opts.trials ?? defaultTrials(search)) }),
    cv: String(opts.cv),
    metric: opts.metric,
    seed: String(opts.seed),
    early_stopping_rounds: String(opts.earlyStoppingRounds),
    promote: opts.promote,
  };
}

/** The flags this command gave that the study was not started with, as one sentence; null when they agree. */
function conflicts(study: Study, asked: Record<string, string>, given: ReadonlySet<StudyOption>): string | null {
  const differ: string[] = [];
  for (const [key, spec] of Object.entries(STUDY_SETTINGS) as Array<
    [SettingKey, (typeof STUDY_SETTINGS)[SettingKey]]
  >) {
    if (!given.has(spec.option) || asked[key] === undefined) continue;
    const theirs = study.settings[key];
    if (theirs === asked[key]) continue;
    differ.push(
      theirs === undefined
        ? `${spec.flag} ${asked[key]} (the study has none: it is a ${study.settings.search} search)`
        : `${spec.flag} ${asked[key]} (the study has ${theirs})`,
    );
  }
  return differ.length === 0
    ? null
    : `study '${study.name}' was started with other settings: ${differ.join(', ')}; leave those flags out to join it with its own settings, or give another --study name`;
}

/** The study's settings as optimize options. */
function optionsOf(opts: OptimizeOptions, s: Record<string, string>): OptimizeOptions {
  return {
    ...opts,
    model: s.model!,
    dataset: s.dataset_id!,
    search: s.search as 'grid' | 'random',
    grid: s.grid ?? opts.grid,
    trials: s.trials === undefined ? undefined : Number(s.trials),
    cv: Number(s.cv),
    metric: s.metric as MetricName,
    seed: Number(s.seed),
    earlyStoppingRounds: Number(s.early_stopping_rounds),
    promote: s.promote as OptimizeOptions['promote'],
  };
}

/**
 * One search shared by every process (on any host) that runs `optimize --study NAME`: the first creates it with
 * its candidates, the others join it; each claims trials one at a time until none is left, a trial a dead worker
 * held is run again, and exactly one worker refits the best, registers it and applies the promotion policy.
 */
export async function optimizeStudy(
  input: OptimizeOptions,
  s: StudyOptions,
  deps: OptimizeDeps,
): Promise<OptimizeResult> {
  const { registry, logger } = deps;
  await deps.claimStore?.();
  const existing = await registry.getStudy(s.study);
  const dataset = await resolveDataset(
    deps,
    existing ? (s.given.has('dataset') ? input.dataset : existing.settings.dataset_id) : input.dataset,
  );
  const asked = settingsOf(input, dataset.id, dataset.rows.train, existing, s.given);
  if (existing) {
    const clash = conflicts(existing, asked, s.given);
    if (clash) throw new UsageError(clash);
  }
  // a new study's candidates; a joiner takes the study's own from its trials
  const candidates = existing ? [] : await candidatesOf(asked, input.grid);
  return await tracked(
    registry,
    { experiment: EXPERIMENT, name: 'optimize', tags: { study: s.study } },
    async (run) => {
      const { study, created } = await registry.openStudy({
        name: s.study,
        settings: asked,
        payloads: candidates.map((c) => JSON.stringify(c)),
        runId: run.id,
      });
      if (!created) {
        // another worker may have created it since we looked
        const clash = conflicts(study, asked, s.given);
        if (clash) throw new UsageError(clash);
      }
      const opts = optionsOf(input, study.settings);
      await registry.linkRunDataset(run.id, study.settings.dataset_id!, 'input');
      await registry.logParams(run.id, { ...study.settings, model_kind: 'xgboost', study: s.study });
      logger.info(
        created
          ? `study ${s.study}: created with ${study.trials} trials (${opts.search} search, ${opts.cv} folds)`
          : `study ${s.study}: joined (${study.counts.DONE + study.counts.FAILED} of ${study.trials} trials ended)`,
      );
      const worker = new StudyWorker(deps, s, opts, run.id);
      return study.state === 'DONE' ? worker.report(study.result) : worker.work();
    },
  );
}

async function candidatesOf(settings: Record<string, string>, grid: string): Promise<XgbParamsInput[]> {
  return settings.search === 'grid'
    ? await gridCandidates(settings.grid ?? grid)
    : randomCandidates(Number(settings.trials), Number(settings.seed));
}

/** One worker of a study: claims and runs trials, waits for the others, and finishes the study when it gets to. */
class StudyWorker {
  #trialsHere = 0;
  #finishedHere = false;

  constructor(
    private readonly deps: OptimizeDeps,
    private readonly s: StudyOptions,
    private readonly opts: OptimizeOptions,
    private readonly runId: string,
  ) {}

  async work(): Promise<OptimizeResult> {
    const { logger, store, registry } = this.deps;
    const opts = this.opts;
    const dataset = await resolveDataset(this.deps, opts.dataset);
    logger.info(`data set ${dataset.id}; loading ${dataset.rows.train} train and ${dataset.rows.test} test rows`);
    const data = await loadDatasetMatrices(store, dataset.id);
    const engine = await loadEngine(opts.engine);
    logger.info(`engine: ${engine.name} (XGBoost ${engine.libraryVersion})${engine.note ? `; ${engine.note}` : ''}`);
    await registry.setTags(this.runId, { engine: engine.name });
    const jobs = foldJobs(engine, opts.jobs);
    return withFoldPool({ data, engine, jobs, cv: opts.cv, seed: opts.seed }, async (setup) => {
      const trial = { ...setup, y: data.yTrain };
      await this.#claimUntilNoneLeft(trial);
      let waiting = '';
      for (;;) {
        const claim = await registry.claimStudyFinish(this.s.study, this.runId);
        if (claim.kind === 'done') return this.report(claim.result);
        if (claim.kind === 'mine') {
          logger.info(`study ${this.s.study}: every trial ended; this worker finishes the study`);
          this.#finishedHere = true;
          return this.report(await this.#finish(dataset, data, engine));
        }
        // a trial may be free again: its worker died
        if (await this.#claimOne(trial)) continue;
        if (claim.reason !== waiting) logger.info(`study ${this.s.study}: waiting: ${claim.reason}`);
        waiting = claim.reason;
        await sleep(this.s.pollMs ?? 1000);
      }
    });
  }

  /** As many trials at once as keep the pool busy, each lane claiming until nothing is left to claim. */
  async #claimUntilNoneLeft(t: TrialSetup): Promise<void> {
    await Promise.all(
      Array.from({ length: trialsInFlight(t.pool.jobs, this.opts.cv) }, async () => {
        while (await this.#claimOne(t));
      }),
    );
  }

  /** Claims one trial and runs it as a child run of this worker; false when there was none to claim. */
  async #claimOne(t: TrialSetup): Promise<boolean> {
    const { registry, logger } = this.deps;
    const claim = await registry.claimTrial(this.s.study, this.runId);
    if (!claim) return false;
    this.#trialsHere++;
    if (claim.attempt > 1)
      logger.info(`study ${this.s.study}: trial ${claim.index} again (attempt ${claim.attempt}): its worker stopped`);
    const started = performance.now();
    try {
      const [trial] = await runSearch({
        registry,
        parentRunId: this.runId,
        candidates: [JSON.parse(claim.payload) as XgbParamsInput],
        indices: [claim.index],
        trialTags: { study: this.s.study, attempt: String(claim.attempt) },
        y: t.y,
        fold: t.fold,
        k: this.opts.cv,
        metric: this.opts.metric,
        earlyStoppingRounds: this.opts.earlyStoppingRounds,
        pool: t.pool,
      });
      await registry.settleTrial(this.s.study, claim.index, this.runId, {
        state: 'DONE',
        runId: trial!.runId,
        score: trial!.score,
      });
      await this.#progress({
        last: { index: claim.index, score: trial!.score, ms: Math.round(performance.now() - started) },
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await registry.settleTrial(this.s.study, claim.index, this.runId, {
        state: 'FAILED',
        runId: null,
        error: message,
      });
      await this.#progress({ lastFailure: { index: claim.index, message } });
    }
    return true;
  }

  async #progress(p: Pick<SearchProgress, 'last' | 'lastFailure'>): Promise<void> {
    if (!this.deps.onProgress) return;
    const trials = await this.deps.registry.listStudyTrials(this.s.study);
    const scores = trials.filter((t) => t.state === 'DONE').map((t) => t.score ?? Number.NaN);
    this.deps.onProgress({
      done: trials.filter((t) => t.state === 'DONE' || t.state === 'FAILED').length,
      total: trials.length,
      failed: trials.filter((t) => t.state === 'FAILED').length,
      best: scores.length ? Math.max(...scores) : null,
      etaMs: null,
      ...p,
    });
  }

  /** Refits the best trial of the whole study, registers it, applies the promotion policy and records the outcome. */
  async #finish(dataset: Dataset, data: DatasetMatrices, engine: XgbEngine): Promise<string> {
    const { registry } = this.deps;
    const opts = this.opts;
    // another optimize or retrain of the model may be registering: wait for it rather than give up a finished search
    const release = await registry.acquireLock(`model:${opts.model}`, {
      waitMs: Math.max(opts.waitSec, FINISH_LOCK_WAIT_SEC) * 1000,
      runId: this.runId,
    });
    try {
      const trials = await registry.listStudyTrials(this.s.study);
      const done = trials.filter((t) => t.state === 'DONE' && t.runId !== null && t.score !== null);
      if (done.length === 0) {
        const first = trials.find((t) => t.state === 'FAILED');
        const error = `every trial of study ${this.s.study} failed (${trials.length}); trial ${first?.index ?? 0}: ${first?.error ?? 'no reason recorded'}`;
        await registry.finishStudy(this.s.study, this.runId, JSON.stringify({ error }));
        throw new RainopsError(error);
      }
      // the highest score; the lowest index among equals, as a search of one worker would pick
      const best = done.reduce((a, b) => (b.score! > a.score! ? b : a));
      const bestRun = await registry.getRun(best.runId!);
      const fitted = await refitBest(opts, this.deps, {
        runId: this.runId,
        data,
        engine,
        best: trialOfRun(bestRun, best.index, JSON.parse(best.payload) as XgbParamsInput),
        finished: done.length,
      });
      await registry.logMetrics(this.runId, { trials_failed: trials.length - done.length });
      const champion = await registry.getAlias(opts.model, CHAMPION_ALIAS);
      const settled = await registerAndPromote(opts, this.deps, {
        runId: this.runId,
        dataset,
        data,
        fitted: { ...fitted, reused: 0, candidates: trials.length },
        champion,
      });
      const result = JSON.stringify(settled);
      if (!(await registry.finishStudy(this.s.study, this.runId, result)))
        this.deps.logger.warn(
          `study ${this.s.study}: this worker lost its claim to finish the study while it registered v${settled.version}`,
        );
      return result;
    } finally {
      await release();
    }
  }

  /** The study's outcome as the finisher recorded it, with what this worker did. */
  async report(result: string | null): Promise<OptimizeResult> {
    const recorded = JSON.parse(result ?? '{}') as Omit<OptimizeResult, 'resumed' | 'study'> & { error?: string };
    if (recorded.error !== undefined) throw new RainopsError(recorded.error);
    const study = (await this.deps.registry.getStudy(this.s.study))!;
    const report: StudyReport = {
      name: this.s.study,
      worker_run_id: this.runId,
      trials: study.trials,
      trials_failed: study.counts.FAILED,
      trials_here: this.#trialsHere,
      finished_here: this.#finishedHere,
    };
    await this.deps.registry.setTags(this.runId, {
      study_trials_here: String(this.#trialsHere),
      study_finished_here: String(this.#finishedHere),
    });
    return { ...recorded, resumed: null, study: report };
  }
}

interface TrialSetup extends FoldSetup {
  y: Float32Array;
}

/** Seconds the finishing worker waits at least for the model's lock. */
const FINISH_LOCK_WAIT_SEC = 600;
