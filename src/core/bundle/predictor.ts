import type { FeatureInput } from '../dataset/schema.js';
import { N_FEATURES, transformRowInto, transformRows } from '../features/pipeline.js';
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

/** Models train on final/*.csv, whose values are rounded to 1e-7: score exactly what training saw. */
function roundLikeTraining(x: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i] = Math.round(x[i]! * 1e7) / 1e7;
}

export function createPredictor(bundle: Bundle): Predictor {
  const scorer = compileEnsemble(bundle.trees);
  const { threshold } = bundle.metadata;
  // The one-row path reuses its buffer: scoring is synchronous, so no two requests share it at once.
  const one = new Float64Array(N_FEATURES);
  // Scoring once builds the scorer's fast path now, while the model loads, not on the first request.
  scorer.predictMargin(one);
  return {
    model: bundle.metadata.model,
    version: bundle.metadata.version,
    threshold,
    bundle,
    probabilities(rows) {
      const x = transformRows(bundle.pipeline, rows);
      roundLikeTraining(x);
      const out = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++)
        out[i] = scorer.predictProba(x.subarray(i * N_FEATURES, (i + 1) * N_FEATURES));
      return out;
    },
    predict(row) {
      transformRowInto(bundle.pipeline, row, one);
      roundLikeTraining(one);
      return answer(scorer.predictProba(one), threshold);
    },
  };
}
