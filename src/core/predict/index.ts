import type { PredictFeatures } from '../dataset/schema.js';
import type { Registry } from '../../registry/index.js';
import { loadPredictor } from '../registration.js';
import type { ArtifactStore } from '../store/types.js';
import { parseFeaturesJson } from './features.js';
import { remoteScorer } from './remote.js';
import type { RemoteOptions } from './remote.js';
import { localScorer } from './scorer.js';
import type { PredictResult, RowScorer } from './scorer.js';

export { predictBatch } from './batch.js';
export type { BatchOptions, BatchProgress, BatchResult } from './batch.js';
export { describeIssues, parseFeatures, parseFeaturesJson } from './features.js';
export { remoteScorer } from './remote.js';
export { localScorer } from './scorer.js';
export type { ModelRef, PredictResult, RowScorer } from './scorer.js';

/** Which model answers: a registered version (by alias or number), or a running `rainops serve`. */
export type ScorerSource =
  | { url: string; remote?: RemoteOptions }
  | { model: string; alias: string }
  | { model: string; version: number };

/** Opens the scorer for a source; the registry and store are needed only for a local model. */
export async function openScorer(
  source: ScorerSource,
  deps: () => Promise<{ registry: Registry; store: ArtifactStore }>,
): Promise<RowScorer> {
  if ('url' in source) return remoteScorer(source.url, source.remote);
  const { registry, store } = await deps();
  const predictor = await loadPredictor(
    registry,
    store,
    source.model,
    'alias' in source ? source.alias : source.version,
  );
  return localScorer(predictor);
}

/** Scores one features object given as JSON text (the API body, or the bare features). */
export async function predictOne(text: string, source: string, scorer: RowScorer): Promise<PredictResult> {
  const features: PredictFeatures = parseFeaturesJson(text, source);
  return scorer.predict(features);
}
