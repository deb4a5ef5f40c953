import { RainopsError } from '../errors.js';

/** A pointer handed out by libxgboost (a DMatrix or a Booster); koffi passes it back as is. */
export type Handle = unknown;

/** The part of XGBoost's C API the native engine uses (see xgboost/c_api.h, 1.4 .. 2.0). */
export interface XgbLib {
  readonly path: string;
  readonly version: string;
  lastError(): string;
  XGDMatrixCreateFromMat_omp(
    data: Float32Array,
    nrow: number,
    ncol: number,
    missing: number,
    out: Handle[],
    nthread: number,
  ): number;
  XGDMatrixSetFloatInfo(h: Handle, field: string, values: Float32Array, len: number): number;
  XGDMatrixFree(h: Handle): number;
  XGBoosterCreate(dmats: Handle[] | null, len: number, out: Handle[]): number;
  XGBoosterFree(h: Handle): number;
  XGBoosterSetParam(h: Handle, name: string, value: string): number;
  XGBoosterUpdateOneIter(h: Handle, iter: number, dtrain: Handle): number;
  XGBoosterPredict(
    h: Handle,
    d: Handle,
    optionMask: number,
    ntreeLimit: number,
    training: number,
    outLen: unknown[],
    out: unknown[],
  ): number;
  XGBoosterSaveModelToBuffer(h: Handle, config: string, outLen: unknown[], out: unknown[]): number;
  XGBoosterLoadModelFromBuffer(h: Handle, buf: Uint8Array, len: number): number;
  XGBoosterSlice(h: Handle, begin: number, end: number, step: number, out: Handle[]): number;
  XGBoosterBoostedRounds(h: Handle, out: number[]): number;
  /** Copies `bytes` bytes from memory owned by the library. */
  copyBytes(ptr: unknown, bytes: number): Uint8Array;
}

const SIGNATURES = [
  'int XGDMatrixCreateFromMat_omp(const float *data, uint64_t nrow, uint64_t ncol, float missing, _Out_ void **out, int nthread)',
  'int XGDMatrixSetFloatInfo(void *handle, const char *field, const float *array, uint64_t len)',
  'int XGDMatrixFree(void *handle)',
  'int XGBoosterCreate(void **dmats, uint64_t len, _Out_ void **out)',
  'int XGBoosterFree(void *handle)',
  'int XGBoosterSetParam(void *handle, const char *name, const char *value)',
  'int XGBoosterUpdateOneIter(void *handle, int iter, void *dtrain)',
  'int XGBoosterPredict(void *handle, void *dmat, int option_mask, unsigned int ntree_limit, int training, _Out_ uint64_t *out_len, _Out_ void **out_result)',
  'int XGBoosterSaveModelToBuffer(void *handle, const char *config, _Out_ uint64_t *out_len, _Out_ void **out_dptr)',
  'int XGBoosterLoadModelFromBuffer(void *handle, const void *buf, uint64_t len)',
  'int XGBoosterSlice(void *handle, int begin_layer, int end_layer, int step, _Out_ void **out)',
  'int XGBoosterBoostedRounds(void *handle, _Out_ int *out)',
];

function candidates(): string[] {
  const fromEnv = process.env['RAINOPS_LIBXGBOOST'];
  if (fromEnv) return [fromEnv];
  return [
    'libxgboost.so.0',
    'libxgboost.so',
    '/usr/lib/x86_64-linux-gnu/libxgboost.so.0',
    '/usr/lib/aarch64-linux-gnu/libxgboost.so.0',
    '/usr/local/lib/libxgboost.so',
    'libxgboost.dylib',
    '/opt/homebrew/lib/libxgboost.dylib',
    '/usr/local/lib/libxgboost.dylib',
  ];
}

/**
 * What the native engine wants in the process environment, given the environment as it is: libxgboost's OpenMP
 * reads its settings from there once, when the library loads, so the process's entry sets them before anything
 * loads it (core only says what they are). OpenMP threads that spin while waiting cost 10-20x on a busy 2-core
 * machine; sleeping costs ~25% when idle. A user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
 */
export function nativeEngineEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return env['OMP_WAIT_POLICY'] === undefined && env['GOMP_SPINCOUNT'] === undefined
    ? { OMP_WAIT_POLICY: 'passive' }
    : {};
}

let loaded: Promise<XgbLib> | undefined;

/** Loads libxgboost once; rejects with a RainopsError saying how to install it. */
export function loadXgbLib(): Promise<XgbLib> {
  loaded ??= open().catch((err: unknown) => {
    loaded = undefined;
    throw err;
  });
  return loaded;
}

async function open(): Promise<XgbLib> {
  let koffi: typeof import('koffi').default;
  try {
    koffi = (await import('koffi')).default;
  } catch (err) {
    // koffi is an optional dependency: an install that could not build it still trains with wasm.
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new RainopsError(
        'The native engine needs the optional koffi FFI module, which is not installed (npm install koffi); use --engine wasm.',
      );
    }
    throw new RainopsError(
      `The native engine needs the koffi FFI module, which failed to load (${String(err)}); use --engine wasm.`,
    );
  }
  let lastError = '';
  let lib: ReturnType<typeof koffi.load> | undefined;
  let path = '';
  for (const p of candidates()) {
    try {
      lib = koffi.load(p);
      path = p;
      break;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
  }
  if (!lib) {
    throw new RainopsError(
      `libxgboost was not found (tried ${candidates().join(', ')}; ${lastError}). Install it (Debian/Ubuntu: apt-get install libxgboost0), ` +
        'point RAINOPS_LIBXGBOOST at libxgboost.so, or use --engine wasm.',
    );
  }
  const handle = lib;
  // biome-ignore lint/suspicious/noExplicitAny: koffi functions are untyped; the XgbLib interface states each signature
  const fns: Record<string, (...args: any[]) => any> = {};
  try {
    for (const sig of SIGNATURES) {
      const name = /\s(\w+)\(/.exec(sig)?.[1] as string;
      fns[name] = handle.func(sig);
    }
    const getLastError = handle.func('const char *XGBGetLastError()');
    const version = handle.func('void XGBoostVersion(_Out_ int *major, _Out_ int *minor, _Out_ int *patch)');
    const setGlobal = handle.func('int XGBSetGlobalConfig(const char *config)');
    const major = [0];
    const minor = [0];
    const patch = [0];
    version(major, minor, patch);
    const [ma, mi] = [major[0] as number, minor[0] as number];
    if (ma < 1 || (ma === 1 && mi < 4) || ma > 2 || (ma === 2 && mi > 0)) {
      throw new RainopsError(
        `${path} is XGBoost ${ma}.${mi}.${patch[0]}; the native engine needs 1.4 to 2.0 (Debian's libxgboost0 is 1.7).`,
      );
    }
    // silence the library's warnings on stderr (the CLI owns stderr)
    setGlobal('{"verbosity":0}');
    return {
      path,
      version: `${ma}.${mi}.${patch[0]}`,
      lastError: () => String(getLastError()),
      copyBytes: (ptr, bytes) => new Uint8Array(koffi.view(ptr, bytes)).slice(),
      ...(fns as unknown as Omit<XgbLib, 'path' | 'version' | 'lastError' | 'copyBytes'>),
    };
  } catch (err) {
    if (err instanceof RainopsError) throw err;
    throw new RainopsError(
      `${path} does not look like a usable libxgboost (${String(err)}); install libxgboost0 or use --engine wasm.`,
    );
  }
}
