import { EXPERIMENT } from '../context.js';
import { RainopsError } from '../errors.js';
import { bestF1Threshold, scoreMetric } from '../evaluation/metrics.js';
import { parseXgbParams, xgbParamRecord } from '../models/params.js';
import type { XgbParamsInput } from '../models/params.js';
import { tracked } from '../tracking.js';
import { foldIndices } from './folds.js';
import { nestedStratifiedOrder } from './halving-sample.js';
import { runSearch } from './search.js';
import type { SearchInput, TrialResult } from './search.js';

/** The defaults, measured on the bundled data set (README "optimize"): the cost of about 1.2 full cross-validations. */
export const HALVING_DEFAULTS = { trials: 9, eta: 3, minBudget: 1 / 27 } as const;

/** Above this many training rows `optimize` searches by halving unless --search says otherwise; at or below, the grid. */
export const HALVING_MIN_ROWS = 250_000;

/** One rung: how many candidates it trains and on what share of the training part (1: cross-validated in full). */
export interface Rung {
  rung: number;
  candidates: number;
  budget: number;
  full: boolean;
}

/**
 * The rungs for n candidates: the first trains every candidate on minBudget of the rows, each next one keeps the
 * best 1/eta (at least one) on eta times the rows; once the budget reaches 1, or one candidate is left, the
 * survivors are cross-validated in full.
 */
export function halvingSchedule(n: number, eta: number, minBudget: number): Rung[] {
  if (!(n >= 1 && eta >= 2 && minBudget > 0 && minBudget <= 1))
    throw new RainopsError(`halving needs at least 1 candidate, eta >= 2 and a budget in (0, 1]`);
  const rungs: Rung[] = [];
  let candidates = n;
  let budget = minBudget;
  // The small tolerance keeps 1/27 * 27 from landing a hair under 1.
  while (budget < 1 - 1e-9 && candidates > 1) {
    rungs.push({ rung: rungs.length, candidates, budget, full: false });
    candidates = Math.max(1, Math.floor(candidates / eta));
    budget = budget * eta;
  }
  rungs.push({ rung: rungs.length, candidates, budget: 1, full: true });
  return rungs;
}

/** Rung scores this close to the best still in the running count as equal (F1 on fold 0 varies more than this). */
export const RUNG_TIE = 0.002;

export interface Scored {
  index: number;
  /** NaN when the candidate failed at this rung: it never advances. */
  score: number;
  /** What cross-validating it in full is expected to cost: see fullCost. */
  cost: number;
}

/**
 * The `keep` candidates that go on, in order: each pick is, among those within `tie` of the best score left, the
 * cheapest, then the lowest candidate number. With tie 0 that is simply the best scores first.
 */
export function advance(scored: readonly Scored[], keep: number, tie = RUNG_TIE): number[] {
  const left = scored.filter((s) => !Number.isNaN(s.score));
  const picked: number[] = [];
  while (picked.length < keep && left.length > 0) {
    const top = Math.max(...left.map((s) => s.score));
    const tied = left.filter((s) => s.score >= top - tie);
    const pick = tied.reduce((a, b) => (b.cost < a.cost || (b.cost === a.cost && b.index < a.index) ? b : a));
    picked.push(pick.index);
    left.splice(left.indexOf(pick), 1);
  }
  return picked;
}

export interface HalvingInput extends Omit<SearchInput, 'finished' | 'indices' | 'trialTags'> {
  eta: number;
  minBudget: number;
  seed: number;
  /** One line per finished rung (core never prints). */
  onRung?: (line: string) => void;
}

/**
 * Successive halving: the partial rungs train each candidate once on a nested, stratified share of the rows
 * outside fold 0 and score it on all of fold 0; the survivors go through runSearch (full k-fold CV, out-of-fold
 * threshold). Every fit is a child run tagged with its trial, rung and budget.
 */
export async function runHalving(input: HalvingInput): Promise<TrialResult[]> {
  const { candidates, y, fold, eta, minBudget } = input;
  const schedule = halvingSchedule(candidates.length, eta, minBudget);
  const { train, valid } = foldIndices(fold, 0);
  const order = nestedStratifiedOrder(y, train, input.seed);
  const yValid = Float32Array.from(valid, (i) => y[i]!);
  let alive = candidates.map((_, i) => i);
  input.onRung?.(`halving: ${describeSchedule(schedule)}`);
  for (const rung of schedule) {
    if (input.deadline !== undefined && Date.now() > input.deadline) break;
    const tags = { rung: String(rung.rung), budget: budgetLabel(rung.budget) };
    if (rung.full) {
      return runSearch({
        ...input,
        candidates: alive.map((i) => candidates[i]!),
        indices: alive,
        trialTags: tags,
      });
    }
    const rows = order
      .subarray(0, Math.max(2, Math.ceil(rung.budget * order.length)))
      .slice()
      .sort();
    const scored = await Promise.all(
      alive.map((index) => rungFit(input, { index, params: candidates[index]!, rung, tags, rows, valid, yValid })),
    );
    const keep = schedule[rung.rung + 1]!.candidates;
    const next = advance(scored, keep);
    if (next.length === 0) throw new RainopsError(`every candidate failed at rung ${rung.rung}; see its trials' runs`);
    input.onRung?.(
      `rung ${rung.rung}: ${alive.length} candidates on ${rows.length} rows (${tags.budget} of fold 0's training part), ` +
        `best ${Math.max(...scored.map((s) => (Number.isNaN(s.score) ? -Infinity : s.score))).toFixed(4)}; ` +
        `trials ${next.join(', ')} go on`,
    );
    alive = next;
  }
  throw new RainopsError('optimize: no trial finished before --timeout; allow more time or fewer candidates');
}

interface RungTask {
  index: number;
  params: XgbParamsInput;
  rung: Rung;
  tags: Record<string, string>;
  rows: Uint32Array;
  valid: Uint32Array;
  yValid: Float32Array;
}

/** One candidate at one partial rung; a failed fit scores NaN (its run is FAILED) and the others go on. */
async function rungFit(input: HalvingInput, t: RungTask): Promise<Scored> {
  const { registry } = input;
  try {
    return await tracked(
      registry,
      {
        experiment: EXPERIMENT,
        name: `trial-${t.index}-rung-${t.rung.rung}`,
        parentRunId: input.parentRunId,
        tags: { ...t.tags, trial: String(t.index) },
      },
      async (run) => {
        const rounds = rungRounds(t.params, t.rung.budget);
        await registry.logParams(run.id, {
          ...(xgbParamRecord(t.params) as Record<string, number>),
          trial: t.index,
          rung: t.rung.rung,
          budget: t.rung.budget,
          rows: t.rows.length,
          rounds,
        });
        const r = await input.pool.run({
          params: { ...t.params, nEstimators: rounds },
          train: t.rows,
          valid: t.valid,
          earlyStoppingRounds: input.earlyStoppingRounds,
        });
        const score =
          input.metric === 'f1'
            ? bestF1Threshold(t.yValid, r.predictions).f1
            : scoreMetric(input.metric, t.yValid, r.predictions, 0.5);
        await registry.logMetrics(run.id, {
          rung_score: score,
          rung_trees: r.bestIteration + 1,
          rung_seconds: r.ms / 1000,
        });
        return { index: t.index, score, cost: fullCost(t.params) };
      },
    );
  } catch {
    // tracked() has marked the run FAILED with the reason.
    return { index: t.index, score: Number.NaN, cost: Number.POSITIVE_INFINITY };
  }
}

/** A fit's expected cost on all rows: trees grow with max depth, and early stopping keeps about 1/learning rate of them. */
export function fullCost(params: XgbParamsInput): number {
  const p = parseXgbParams(params);
  return p.maxDepth / p.learningRate;
}

/** A partial rung's boosting rounds: its share of the candidate's n_estimators, so slow learners show it early. */
export function rungRounds(params: XgbParamsInput, budget: number): number {
  return Math.max(1, Math.ceil(budget * parseXgbParams(params).nEstimators - 1e-9));
}

/** 1/27, 1/9, 1/3 and 1 as fractions when they are, else a short decimal. */
export function budgetLabel(budget: number): string {
  if (budget >= 1) return '1';
  const inverse = 1 / budget;
  return Math.abs(inverse - Math.round(inverse)) < 1e-6
    ? `1/${Math.round(inverse)}`
    : String(Number(budget.toPrecision(3)));
}

export type SearchKind = 'grid' | 'random' | 'halving';

/** `auto` (no --search given): the grid up to HALVING_MIN_ROWS training rows, halving above. */
export function chooseSearch(search: SearchKind | 'auto', trainRows: number): SearchKind {
  if (search !== 'auto') return search;
  return trainRows > HALVING_MIN_ROWS ? 'halving' : 'grid';
}

/** The trial count when --trials is not given: 10 draws for a random search, HALVING_DEFAULTS for halving. */
export function defaultTrials(search: SearchKind): number {
  return search === 'halving' ? HALVING_DEFAULTS.trials : 10;
}

/** "9 candidates on 1/27 of the rows, 3 on 1/9, then 1 cross-validated in full". */
export function describeSchedule(schedule: readonly Rung[]): string {
  return schedule
    .map((r, i) =>
      r.full
        ? `${i ? 'then ' : ''}${r.candidates} cross-validated in full`
        : `${r.candidates}${i ? '' : ' candidates'} on ${budgetLabel(r.budget)}${i ? '' : ' of the rows'}`,
    )
    .join(', ');
}
