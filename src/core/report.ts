import type { Registry } from '../registry/index.js';
import type { ClassificationMetrics } from './evaluation/metrics.js';
import { precisionRecallCurve, rocCurve } from './evaluation/metrics.js';
import { confusionMatrixSvg, featureImportanceSvg, precisionRecallSvg, rocSvg } from './evaluation/plots.js';
import { featureImportance } from './models/importance.js';
import type { TreeEnsemble } from './models/trees.js';
import type { ArtifactStore } from './store/types.js';

/** At most `max` points of a curve, evenly picked, the last one kept; coordinates rounded to 5 decimals. */
function thin(points: number[][], max = 200): number[][] {
  const every = Math.max(1, Math.ceil(points.length / max));
  const kept = points.filter((_, i) => i % every === 0 || i === points.length - 1);
  return kept.map((p) => p.map((x) => Math.round(x * 1e5) / 1e5));
}

/** Stores a run's evaluation plots as SVG artifacts and records them on the run. */
export async function writeEvaluationPlots(
  registry: Registry,
  store: ArtifactStore,
  runId: string,
  data: { y: ArrayLike<number>; p: ArrayLike<number>; metrics: ClassificationMetrics; trees: TreeEnsemble },
): Promise<string[]> {
  const importance = featureImportance(data.trees);
  const roc = rocCurve(data.y, data.p);
  const pr = precisionRecallCurve(data.y, data.p);
  const plots: Record<string, string> = {
    'plots/roc.svg': rocSvg(roc, data.metrics.roc_auc),
    'plots/precision_recall.svg': precisionRecallSvg(pr),
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
  // The curves as points too (thinned), so that runs can be overlaid on one chart (the web UI's compare page).
  const curves = JSON.stringify({
    roc_auc: data.metrics.roc_auc,
    roc: thin(roc.map((p) => [p.fpr, p.tpr])),
    precision_recall: thin(pr.map((p) => [p.recall, p.precision])),
  });
  const c = await store.put(`runs/${runId}/curves.json`, curves);
  await registry.logArtifact(runId, {
    path: 'curves.json',
    size: c.size,
    sha256: c.sha256,
    uri: `${store.url}/runs/${runId}/curves.json`,
  });
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
