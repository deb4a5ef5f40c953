import { answer } from '../bundle/predictor.js';
import type { Prediction, Predictor } from '../bundle/predictor.js';
import { featuresToInput } from '../dataset/schema.js';
import type { FeatureInput, PredictFeatures } from '../dataset/schema.js';

export interface ModelRef {
  name: string;
  version: number;
}

/** What the API answers for one row: `{prediction_bool, prediction_str, probability, model}`. */
export interface PredictResult extends Prediction {
  model: ModelRef;
}

/** A row the scorer could not score, and why (the server refused it, say). */
export interface RowRejection {
  reason: string;
}

/** Scores rows, locally or through a running `rainops serve`: the CLI and the form only see this. */
export interface RowScorer {
  /** Where the answers come from, for titles and messages. */
  readonly describe: string;
  predict(features: PredictFeatures): Promise<PredictResult>;
  /** Scores batch rows in order; each answer is a prediction or the reason the row was refused. */
  scoreRows(
    rows: readonly FeatureInput[],
  ): Promise<{ model: ModelRef | null; answers: Array<Prediction | RowRejection> }>;
}

/** Scores with a loaded model version in this process. */
export function localScorer(predictor: Predictor): RowScorer {
  const model = { name: predictor.model, version: predictor.version };
  return {
    describe: `${model.name} v${model.version}`,
    predict: async (features) => ({ ...predictor.predict(featuresToInput(features)), model }),
    scoreRows: async (rows) => {
      const p = predictor.probabilities(rows);
      const answers: Prediction[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) answers[i] = answer(p[i]!, predictor.threshold);
      return { model, answers };
    },
  };
}
