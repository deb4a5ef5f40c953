import { createRequire } from 'node:module';
import { IntegrityError, RainopsError, UsageError } from '../errors.js';
import { EarlyStopping, evalMetric } from './early-stopping.js';
import { requireMlXgboostGlue } from './ml-xgboost-shim.js';
import { checkTrainInput, freedError, Mutex } from './engine.js';
import type { TrainedModel, TrainOptions, XgbEngine } from './engine.js';
import type { Matrix } from './matrix.js';
import { xgbParamPairs } from './params.js';
import { compileEnsemble } from './trees.js';
import { parseXgbBinary, truncateXgbBinary, xgbBinaryToEnsemble } from './xgb-binary.js';

/** The raw exports of ml-xgboost's Emscripten module (its JS wrapper copies data through the stack). */
interface XgbWasmModule {
  isReady: Promise<unknown>;
  print: (text: string) => void;
  printErr: (text: string) => void;
  onExit?: (status: number) => void;
  HEAPU8: Uint8Array;
  HEAPF32: Float32Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _create_model(data: number, labels: number, rows: number, cols: number): number;
  _set_param(model: number, key: number, value: number): void;
  _train_full_model(model: number, rounds: number): void;
  _predict_one(model: number, row: number, cols: number, out: number): number;
  _save_model(model: number): number;
  _get_file_content(dest: number, size: number): void;
  _load_model(src: number, size: number): number;
  _free_memory_model(model: number): void;
}

export interface WasmEngineOptions {
  note?: string;
  /** Rounds trained per call between eval checks (the model is the same whatever the split). */
  chunkRounds?: number;
}

const require = createRequire(import.meta.url);
/** One wasm instance per process, so one training at a time (XGBoost's random generator is global). */
const mutex = new Mutex();
let loading: Promise<XgbWasmModule> | undefined;

/** This build of XGBoost reads -1 as missing and aborts on NaN. */
const WASM_MISSING = -1;
/** The float32 just below -1: a real -1 sorts against every split the same way. */
const BELOW_MINUS_ONE = -1.0000001192092896;

function loadWasmModule(): Promise<XgbWasmModule> {
  loading ??= (async () => {
    const mod = requireMlXgboostGlue() as XgbWasmModule;
    await mod.isReady;
    mod.print = () => {};
    mod.printErr = () => {};
    // a C exit() inside wasm would end the whole process: throw instead, before it gets there
    mod.onExit = (status) => {
      throw new RainopsError(`The wasm XGBoost engine stopped (exit status ${status}); try the native engine.`);
    };
    return mod;
  })();
  return loading;
}

function malloc(M: XgbWasmModule, bytes: number): number {
  const ptr = M._malloc(Math.max(bytes, 1));
  if (ptr === 0)
    throw new RainopsError(
      `The wasm engine could not allocate ${bytes} bytes; use the native engine for data this large.`,
    );
  return ptr;
}

/** Copies float32 values into the wasm heap with NaN as the build's missing marker. */
function writeValues(M: XgbWasmModule, src: Float32Array, ptr: number): void {
  const heap = M.HEAPF32;
  const at = ptr >> 2;
  for (let i = 0; i < src.length; i++) {
    const v = src[i] as number;
    // biome-ignore lint/suspicious/noSelfCompare: the cheapest NaN test on a hot path
    heap[at + i] = v !== v ? WASM_MISSING : v === WASM_MISSING ? BELOW_MINUS_ONE : v;
  }
}

function withString<T>(M: XgbWasmModule, s: string, fn: (ptr: number) => T): T {
  const bytes = new TextEncoder().encode(`${s}\0`);
  const ptr = malloc(M, bytes.length);
  try {
    M.HEAPU8.set(bytes, ptr);
    return fn(ptr);
  } finally {
    M._free(ptr);
  }
}

function saveBytes(M: XgbWasmModule, handle: number): Uint8Array {
  const size = M._save_model(handle);
  if (size <= 0) throw new RainopsError('The wasm engine failed to save its model.');
  const ptr = malloc(M, size);
  try {
    M._get_file_content(ptr, size);
    return M.HEAPU8.slice(ptr, ptr + size);
  } finally {
    M._free(ptr);
  }
}

function loadHandle(M: XgbWasmModule, bytes: Uint8Array): number {
  if (bytes[0] === 0x7b) {
    throw new UsageError(
      'These model bytes are XGBoost JSON (saved by the native engine); the wasm engine reads only the binary format.',
    );
  }
  // a malformed file aborts inside wasm: check it in JS first
  const parsed = parseXgbBinary(bytes);
  if (parsed.majorVersion !== 0 || bytes[0] === 0x62) {
    throw new UsageError(
      'These model bytes were written by XGBoost 1.x (the native engine); the wasm engine reads only its own format.',
    );
  }
  const ptr = malloc(M, bytes.length);
  try {
    M.HEAPU8.set(bytes, ptr);
    const handle = M._load_model(ptr, bytes.length);
    if (handle === 0) throw new IntegrityError('The wasm engine could not load these model bytes.');
    return handle;
  } finally {
    M._free(ptr);
  }
}

const featureIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `f${i}`);

class WasmModel implements TrainedModel {
  readonly engine = 'wasm' as const;
  readonly format = 'xgboost-binary' as const;
  readonly numFeature: number;
  constructor(
    private readonly M: XgbWasmModule,
    private handle: number,
    private readonly bytes: Uint8Array,
    private readonly registry: FinalizationRegistry<number>,
    readonly bestIteration: number,
    readonly nTrees: number,
    readonly roundsTrained: number,
    readonly bestScore?: number,
  ) {
    this.numFeature = parseXgbBinary(bytes).numFeature;
    registry.register(this, handle, this);
  }

  predict(X: Matrix): Float32Array {
    if (this.handle === 0) throw freedError('wasm');
    if (X.cols !== this.numFeature) {
      throw new UsageError(`The model expects ${this.numFeature} features, the matrix has ${X.cols}.`);
    }
    const M = this.M;
    const out = new Float32Array(X.rows);
    const row = malloc(M, X.cols * 4);
    const res = malloc(M, 16);
    try {
      for (let i = 0; i < X.rows; i++) {
        writeValues(M, X.data.subarray(i * X.cols, (i + 1) * X.cols), row);
        M._predict_one(this.handle, row, X.cols, res);
        out[i] = M.HEAPF32[res >> 2] as number;
      }
    } finally {
      M._free(row);
      M._free(res);
    }
    return out;
  }

  toTrees(featureNames: readonly string[]) {
    return xgbBinaryToEnsemble(parseXgbBinary(this.bytes), featureNames);
  }

  save(): Uint8Array {
    return this.bytes.slice();
  }

  free(): void {
    if (this.handle === 0) return;
    this.registry.unregister(this);
    this.M._free_memory_model(this.handle);
    this.handle = 0;
  }
}

export async function createWasmEngine(options: WasmEngineOptions = {}): Promise<XgbEngine> {
  const M = await loadWasmModule();
  const chunkRounds = options.chunkRounds ?? 25;
  if (!Number.isInteger(chunkRounds) || chunkRounds < 1)
    throw new UsageError('chunkRounds must be a whole number of at least 1.');
  const registry = new FinalizationRegistry<number>((handle) => M._free_memory_model(handle));
  const pkg = require('ml-xgboost/package.json') as { version: string };

  const train = async (X: Matrix, y: Float32Array, params: unknown, opts: TrainOptions = {}): Promise<TrainedModel> => {
    const { p, metric } = checkTrainInput(X, y, params, opts);
    return mutex.run(async () => {
      const px = malloc(M, X.data.length * 4);
      const py = malloc(M, y.length * 4);
      let handle = 0;
      try {
        writeValues(M, X.data, px);
        M.HEAPF32.set(y, py >> 2);
        handle = M._create_model(px, py, X.rows, X.cols);
      } finally {
        M._free(px);
        M._free(py);
      }
      if (handle === 0) throw new RainopsError('The wasm engine could not create its training matrix.');
      try {
        for (const [k, v] of xgbParamPairs(p, null))
          withString(M, k, (kp) => withString(M, v, (vp) => M._set_param(handle, kp, vp)));
        const stopper = new EarlyStopping(metric, opts.earlyStoppingRounds);
        const ev = opts.eval;
        const margins = ev ? new Float32Array(ev.X.rows) : null;
        const scores: number[] = [];
        let trained = 0;
        let stopped = false;
        while (trained < p.nEstimators && !stopped) {
          const k = Math.min(chunkRounds, p.nEstimators - trained);
          M._train_full_model(handle, k);
          const first = trained;
          trained += k;
          if (ev && margins) {
            const te = xgbBinaryToEnsemble(parseXgbBinary(saveBytes(M, handle)), featureIds(X.cols));
            if (first === 0) margins.fill(te.baseMargin);
            const fresh = compileEnsemble({ ...te, trees: te.trees.slice(first, trained) });
            fresh.accumulateMargins(ev.X, margins, 0, k, (t) => {
              if (stopped) return;
              const round = first + t;
              const score = evalMetric(metric, margins, ev.y);
              scores[round] = score;
              opts.onRound?.({ round, nRounds: p.nEstimators, score });
              stopped = stopper.update(round, score);
            });
          } else {
            for (let r = first; r < trained; r++) opts.onRound?.({ round: r, nRounds: p.nEstimators });
          }
          // let timers and progress output run between chunks
          await new Promise((resolve) => setImmediate(resolve));
        }
        const early = opts.earlyStoppingRounds !== undefined && stopper.bestRound >= 0;
        const best = early ? stopper.bestRound : trained - 1;
        const full = saveBytes(M, handle);
        const bytes = best + 1 < trained ? truncateXgbBinary(full, best + 1) : full;
        M._free_memory_model(handle);
        handle = 0;
        const loaded = loadHandle(M, bytes);
        return new WasmModel(M, loaded, bytes, registry, best, best + 1, trained, ev ? scores[best] : undefined);
      } finally {
        if (handle !== 0) M._free_memory_model(handle);
      }
    });
  };

  const load = async (bytes: Uint8Array): Promise<TrainedModel> => {
    const handle = loadHandle(M, bytes);
    const n = parseXgbBinary(bytes).trees.length;
    return new WasmModel(M, handle, bytes.slice(), registry, n - 1, n, n);
  };

  return {
    name: 'wasm',
    libraryVersion: `ml-xgboost ${pkg.version}`,
    ...(options.note !== undefined ? { note: options.note } : {}),
    train,
    load,
  };
}
