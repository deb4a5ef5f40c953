import { availableParallelism } from 'node:os';
import { IntegrityError, RainopsError, UsageError } from '../errors.js';
import { EarlyStopping, evalMetric } from './early-stopping.js';
import { checkTrainInput, freedError, Mutex } from './engine.js';
import type { TrainedModel, TrainOptions, XgbEngine } from './engine.js';
import type { Matrix } from './matrix.js';
import { loadXgbLib } from './native-lib.js';
import type { Handle, XgbLib } from './native-lib.js';
import { xgbParamPairs } from './params.js';
import type { TreeEnsemble } from './trees.js';
import { parseXgbBinary, xgbBinaryToEnsemble } from './xgb-binary.js';

function check(lib: XgbLib, rc: number, what: string): void {
  if (rc !== 0) throw new RainopsError(`libxgboost could not ${what}: ${lib.lastError()}`);
}

function createDMatrix(lib: XgbLib, X: Matrix, y: Float32Array | null, threads: number): Handle {
  const out: Handle[] = [null];
  check(lib, lib.XGDMatrixCreateFromMat_omp(X.data, X.rows, X.cols, Number.NaN, out, threads), 'build a data matrix');
  const d = out[0];
  if (y) {
    const rc = lib.XGDMatrixSetFloatInfo(d, 'label', y, y.length);
    if (rc !== 0) {
      lib.XGDMatrixFree(d);
      check(lib, rc, 'set the labels');
    }
  }
  return d;
}

function predictRaw(lib: XgbLib, booster: Handle, d: Handle, outputMargin: boolean): Float32Array {
  const len: unknown[] = [0];
  const res: unknown[] = [null];
  check(lib, lib.XGBoosterPredict(booster, d, outputMargin ? 1 : 0, 0, 0, len, res), 'predict');
  const n = Number(len[0]);
  // the result buffer belongs to the booster and is overwritten by its next call
  return new Float32Array(lib.copyBytes(res[0], n * 4).buffer);
}

function saveToBuffer(lib: XgbLib, booster: Handle, format: 'json' | 'deprecated'): Uint8Array {
  const len: unknown[] = [0];
  const out: unknown[] = [null];
  check(
    lib,
    lib.XGBoosterSaveModelToBuffer(booster, JSON.stringify({ format }), len, out),
    `save the model as ${format}`,
  );
  return lib.copyBytes(out[0], Number(len[0]));
}

function boostedRounds(lib: XgbLib, booster: Handle): number {
  const out = [0];
  check(lib, lib.XGBoosterBoostedRounds(booster, out), 'count the trees');
  return out[0] as number;
}

class NativeModel implements TrainedModel {
  readonly engine = 'native' as const;
  readonly format = 'xgboost-json' as const;
  private parsed: ReturnType<typeof parseXgbBinary> | undefined;
  constructor(
    private readonly lib: XgbLib,
    private booster: Handle,
    private readonly threads: number,
    private readonly registry: FinalizationRegistry<Handle>,
    readonly bestIteration: number,
    readonly nTrees: number,
    readonly roundsTrained: number,
    readonly bestScore?: number,
  ) {
    registry.register(this, booster, this);
  }

  private live(): Handle {
    if (this.booster === null) throw freedError('native');
    return this.booster;
  }

  predict(X: Matrix): Float32Array {
    const booster = this.live();
    const numFeature = this.binary().numFeature;
    if (X.cols !== numFeature)
      throw new UsageError(`The model expects ${numFeature} features, the matrix has ${X.cols}.`);
    if (X.rows === 0) return new Float32Array(0);
    const d = createDMatrix(this.lib, X, null, this.threads);
    try {
      return predictRaw(this.lib, booster, d, false);
    } finally {
      this.lib.XGDMatrixFree(d);
    }
  }

  /** The deprecated binary layout keeps every float exactly, so trees come from the same parser as wasm. */
  private binary(): ReturnType<typeof parseXgbBinary> {
    this.parsed ??= parseXgbBinary(saveToBuffer(this.lib, this.live(), 'deprecated'));
    return this.parsed;
  }

  toTrees(featureNames: readonly string[]): TreeEnsemble {
    return xgbBinaryToEnsemble(this.binary(), featureNames);
  }

  save(): Uint8Array {
    return saveToBuffer(this.lib, this.live(), 'json');
  }

  free(): void {
    if (this.booster === null) return;
    this.registry.unregister(this);
    this.lib.XGBoosterFree(this.booster);
    this.booster = null;
  }
}

/** One library per process, so one training at a time (XGBoost's random generator is global). */
const mutex = new Mutex();

export async function createNativeEngine(): Promise<XgbEngine> {
  const lib = await loadXgbLib();
  const registry = new FinalizationRegistry<Handle>((booster) => lib.XGBoosterFree(booster));

  const newBooster = (dmats: Handle[]): Handle => {
    const out: Handle[] = [null];
    check(lib, lib.XGBoosterCreate(dmats.length > 0 ? dmats : null, dmats.length, out), 'create a booster');
    return out[0];
  };

  const train = async (X: Matrix, y: Float32Array, params: unknown, opts: TrainOptions = {}): Promise<TrainedModel> => {
    const { p, metric } = checkTrainInput(X, y, params, opts);
    const threads = p.nthread ?? availableParallelism();
    return mutex.run(async () => {
      const dmats: Handle[] = [];
      let booster: Handle = null;
      try {
        dmats.push(createDMatrix(lib, X, y, threads));
        const ev = opts.eval;
        // listing the eval matrix at creation lets XGBoost cache its predictions between rounds
        if (ev) dmats.push(createDMatrix(lib, ev.X, ev.y, threads));
        booster = newBooster(dmats);
        for (const [k, v] of [...xgbParamPairs(p, threads), ['verbosity', '0']] as const) {
          check(lib, lib.XGBoosterSetParam(booster, k, v), `set ${k}=${v}`);
        }
        const stopper = new EarlyStopping(metric, opts.earlyStoppingRounds);
        const scores: number[] = [];
        let trained = 0;
        for (let round = 0; round < p.nEstimators; round++) {
          check(lib, lib.XGBoosterUpdateOneIter(booster, round, dmats[0]), `train round ${round}`);
          trained++;
          let stop = false;
          if (ev) {
            const score = evalMetric(metric, predictRaw(lib, booster, dmats[1], true), ev.y);
            scores[round] = score;
            opts.onRound?.({ round, nRounds: p.nEstimators, score });
            stop = stopper.update(round, score);
          } else {
            opts.onRound?.({ round, nRounds: p.nEstimators });
          }
          if (round % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
          if (stop) break;
        }
        const early = opts.earlyStoppingRounds !== undefined && stopper.bestRound >= 0;
        const best = early ? stopper.bestRound : trained - 1;
        if (best + 1 < trained) {
          const out: Handle[] = [null];
          check(lib, lib.XGBoosterSlice(booster, 0, best + 1, 1, out), 'keep the best trees');
          lib.XGBoosterFree(booster);
          booster = out[0];
        }
        const model = new NativeModel(
          lib,
          booster,
          threads,
          registry,
          best,
          best + 1,
          trained,
          ev ? scores[best] : undefined,
        );
        booster = null;
        return model;
      } finally {
        if (booster !== null) lib.XGBoosterFree(booster);
        for (const d of dmats) lib.XGDMatrixFree(d);
      }
    });
  };

  const load = async (bytes: Uint8Array): Promise<TrainedModel> => {
    const booster = newBooster([]);
    try {
      if (lib.XGBoosterLoadModelFromBuffer(booster, bytes, bytes.length) !== 0) {
        throw new IntegrityError(`libxgboost could not load these model bytes: ${lib.lastError()}`);
      }
      const threads = availableParallelism();
      check(lib, lib.XGBoosterSetParam(booster, 'nthread', String(threads)), 'set nthread');
      const n = boostedRounds(lib, booster);
      return new NativeModel(lib, booster, threads, registry, n - 1, n, n);
    } catch (err) {
      lib.XGBoosterFree(booster);
      throw err;
    }
  };

  return { name: 'native', libraryVersion: `libxgboost ${lib.version}`, train, load };
}
