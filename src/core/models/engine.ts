import { RainopsError, UsageError } from '../errors.js';
import type { EvalMetric } from './early-stopping.js';
import type { Matrix } from './matrix.js';
import { checkTrainingData } from './matrix.js';
import { parseXgbParams } from './params.js';
import type { XgbParams } from './params.js';
import type { TreeEnsemble } from './trees.js';

export type EngineName = 'wasm' | 'native';
export type EngineChoice = 'auto' | EngineName;

export interface RoundInfo {
  /** 0-based index of the tree just added. */
  round: number;
  nRounds: number;
  /** The eval-set metric after this round, when an eval set was given. */
  score?: number;
}

export interface TrainOptions {
  eval?: { X: Matrix; y: Float32Array };
  /** Stop after this many rounds without improvement on the eval set (needs `eval`). */
  earlyStoppingRounds?: number;
  metric?: EvalMetric;
  onRound?(info: RoundInfo): void;
}

export interface TrainedModel {
  readonly engine: EngineName;
  /** 0-based round with the best eval score (the last round without early stopping). */
  readonly bestIteration: number;
  /** Trees kept: bestIteration + 1. */
  readonly nTrees: number;
  /** Rounds actually trained before stopping. */
  readonly roundsTrained: number;
  /** The eval metric at bestIteration, when an eval set was given. */
  readonly bestScore?: number;
  /** What save() returns: XGBoost's binary layout (wasm) or its JSON model (native). */
  readonly format: 'xgboost-binary' | 'xgboost-json';
  /** Probabilities of class 1 computed by the engine itself. */
  predict(X: Matrix): Float32Array;
  toTrees(featureNames: readonly string[]): TreeEnsemble;
  /** The engine's own model bytes. */
  save(): Uint8Array;
  /** Releases the engine's memory; the model is unusable afterwards. */
  free(): void;
}

export interface XgbEngine {
  readonly name: EngineName;
  readonly libraryVersion: string;
  /** Why `auto` chose this engine, when it had to fall back. */
  readonly note?: string;
  /** Trains with validated hyperparameters (see parseXgbParams; unknown input is validated here). */
  train(X: Matrix, y: Float32Array, params: unknown, opts?: TrainOptions): Promise<TrainedModel>;
  /** Loads bytes saved by save() (native also reads the wasm engine's bytes). */
  load(bytes: Uint8Array): Promise<TrainedModel>;
}

/** Validates everything a train call gets, before any engine call (a bad call aborts the wasm module). */
export function checkTrainInput(
  X: Matrix,
  y: Float32Array,
  params: unknown,
  opts: TrainOptions,
): { p: XgbParams; metric: EvalMetric } {
  const p = parseXgbParams(params);
  checkTrainingData(X, y);
  checkTrainOptions(opts, X.cols);
  if (opts.eval) checkTrainingData(opts.eval.X, opts.eval.y, 'eval');
  return { p, metric: opts.metric ?? 'logloss' };
}

export function checkTrainOptions(opts: TrainOptions, cols: number): void {
  if (opts.earlyStoppingRounds !== undefined) {
    if (!Number.isInteger(opts.earlyStoppingRounds) || opts.earlyStoppingRounds < 1) {
      throw new UsageError(
        `earlyStoppingRounds must be a whole number of at least 1 (got ${opts.earlyStoppingRounds}).`,
      );
    }
    if (!opts.eval) throw new UsageError('Early stopping needs an eval set.');
  }
  if (opts.metric !== undefined && opts.metric !== 'logloss' && opts.metric !== 'auc') {
    throw new UsageError(`Unknown eval metric "${String(opts.metric)}": use logloss or auc.`);
  }
  if (opts.eval && opts.eval.X.cols !== cols) {
    throw new UsageError(`The eval set has ${opts.eval.X.cols} features, the training set ${cols}.`);
  }
}

/** Serializes work on a shared engine: XGBoost's random generator is global to the library. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

export function freedError(engine: EngineName): RainopsError {
  return new RainopsError(`This ${engine} model was freed; train or load it again.`);
}

/** `auto` takes the native engine when libxgboost loads, else wasm (saying why in `note`). */
export async function loadEngine(choice: EngineChoice = 'auto'): Promise<XgbEngine> {
  if (choice !== 'auto' && choice !== 'wasm' && choice !== 'native') {
    throw new UsageError(`Unknown engine "${String(choice)}": use auto, wasm or native.`);
  }
  if (choice === 'wasm') return (await import('./wasm-engine.js')).createWasmEngine();
  const native = await import('./native-engine.js');
  if (choice === 'native') return native.createNativeEngine();
  try {
    return await native.createNativeEngine();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return (await import('./wasm-engine.js')).createWasmEngine({
      note: `native engine unavailable (${why}); using wasm`,
    });
  }
}
