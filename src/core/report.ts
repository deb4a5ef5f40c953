import type { Registry } from '../registry/index.js';
import type { ClassificationMetrics } from './evaluation/metrics.js';
import { precisionRecallCurve, rocCurve } from './evaluation/metrics.js';
import { confusionMatrixSvg, featureImportanceSvg, precisionRecallSvg, rocSvg } from './evaluation/plots.js';
import { featureImportance } from './models/importance.js';
import type { TreeEnsemble } from './models/trees.js';
import type { ArtifactStore } from './store/types.js';

/** Stores a run's evaluation plots as SVG artifacts and records them on the run. */
export async function writeEvaluationPlots(
  registry: Registry,
  store: ArtifactStore,
  runId: string,
  data: { y: ArrayLike<number>; p: ArrayLike<number>; metrics: ClassificationMetrics; trees: TreeEnsemble },
): Promise<string[]> {
  const importance = featureImportance(data.trees);
  const plots: Record<string, string> = {
    'plots/roc.svg': rocSvg(rocCurve(data.y, data.p), data.metrics.roc_auc),
    'plots/precision_recall.svg': precisionRecallSvg(precisionRecallCurve(data.y, data.p)),
    'plots/confusion_matrix.svg': confusionMatrixSvg(data.metrics.confusion_matrix),
    'plots/feature_importance.svg': featureImportanceSvg(
      importance.map((f) => ({ name: f.feature, value: f.gain })),
      'Feature importance (average gain)',
    ),
  };
  const written: string[] = [];
  for (const [path, svg] of Object.entries(plots)) {
    const key = `runs/${runId}/${path}`;
    const r = await store.put(key, svg);
    await registry.logArtifact(runId, { path, size: r.size, sha256: r.sha256, uri: `${store.url}/${key}` });
    written.push(path);
  }
  const imp = JSON.stringify(importance, null, 1);
  const r = await store.put(`runs/${runId}/feature_importance.json`, imp);
  await registry.logArtifact(runId, {
    path: 'feature_importance.json',
    size: r.size,
    sha256: r.sha256,
    uri: `${store.url}/runs/${runId}/feature_importance.json`,
  });
  return written;
}
