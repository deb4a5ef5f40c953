import type { XgbEngine } from '../models/engine.js';
import { selectRows } from '../models/matrix.js';
import type { Matrix } from '../models/matrix.js';
import { parseXgbParams } from '../models/params.js';
import type { XgbParamsInput } from '../models/params.js';

export interface FoldTask {
  params: XgbParamsInput;
  train: Uint32Array;
  valid: Uint32Array;
  earlyStoppingRounds: number;
}

export interface FoldResult {
  /** Probabilities for the held-out rows, in the order of `valid`. */
  predictions: Float32Array;
  bestIteration: number;
  roundsTrained: number;
  ms: number;
}

function pick(y: Float32Array, idx: Uint32Array): Float32Array {
  const out = new Float32Array(idx.length);
  for (let k = 0; k < idx.length; k++) out[k] = y[idx[k]!]!;
  return out;
}

/** Trains on the fold's training rows, stopping early on its held-out rows, and predicts them. */
export async function fitFold(engine: XgbEngine, X: Matrix, y: Float32Array, task: FoldTask): Promise<FoldResult> {
  const started = performance.now();
  const validX = selectRows(X, task.valid);
  // Scoring the held-out rows after every round only pays off when it can stop the fit early.
  const canStop = task.earlyStoppingRounds < parseXgbParams(task.params).nEstimators;
  const model = await engine.train(
    selectRows(X, task.train),
    pick(y, task.train),
    task.params,
    canStop
      ? {
          eval: { X: validX, y: pick(y, task.valid) },
          earlyStoppingRounds: task.earlyStoppingRounds,
          metric: 'logloss',
        }
      : {},
  );
  try {
    return {
      predictions: model.predict(validX),
      bestIteration: model.bestIteration,
      roundsTrained: model.roundsTrained,
      ms: performance.now() - started,
    };
  } finally {
    model.free();
  }
}
