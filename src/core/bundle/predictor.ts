import type { FeatureInput } from '../dataset/schema.js';
import { N_FEATURES, transformRows } from '../features/pipeline.js';
import { compileEnsemble } from '../models/trees.js';
import type { Bundle } from './bundle.js';

export const ANSWER_RAIN = 'Toma un paraguas. Mañana puede que llueva.';
export const ANSWER_DRY = 'Más seco que el Sahara. Mañana posiblemente no llueva...';

export interface Prediction {
  prediction_bool: 0 | 1;
  prediction_str: string;
  probability: number;
}

/** A loaded model version: its pipeline, its compiled trees and its decision threshold. */
export interface Predictor {
  readonly model: string;
  readonly version: number;
  readonly threshold: number;
  readonly bundle: Bundle;
  predict(row: FeatureInput): Prediction;
  /** Probabilities for many raw rows at once. */
  probabilities(rows: readonly FeatureInput[]): Float64Array;
}

export function answer(probability: number, threshold: number): Prediction {
  const rain = probability >= threshold;
  return { prediction_bool: rain ? 1 : 0, prediction_str: rain ? ANSWER_RAIN : ANSWER_DRY, probability };
}

export function createPredictor(bundle: Bundle): Predictor {
  const scorer = compileEnsemble(bundle.trees);
  const { threshold } = bundle.metadata;
  const probabilities = (rows: readonly FeatureInput[]) => {
    const x = transformRows(bundle.pipeline, rows);
    // Models train on final/*.csv, whose values are rounded to 1e-7: score exactly what training saw.
    for (let i = 0; i < x.length; i++) x[i] = Math.round(x[i]! * 1e7) / 1e7;
    const out = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = scorer.predictProba(x.subarray(i * N_FEATURES, (i + 1) * N_FEATURES));
    return out;
  };
  return {
    model: bundle.metadata.model,
    version: bundle.metadata.version,
    threshold,
    bundle,
    probabilities,
    predict: (row) => answer(probabilities([row])[0]!, threshold),
  };
}
