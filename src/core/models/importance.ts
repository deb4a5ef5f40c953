import type { TreeEnsemble } from './trees.js';

/** XGBoost's importance types for one feature: weight = splits on it, gain/cover = averages per split. */
export interface FeatureImportance {
  feature: string;
  weight: number;
  gain: number;
  cover: number;
  totalGain: number;
  totalCover: number;
}

/** Importance of every feature, in featureNames order (zeros for features never split on). */
export function featureImportance(te: TreeEnsemble): FeatureImportance[] {
  const rows = te.featureNames.map((feature) => ({
    feature,
    weight: 0,
    gain: 0,
    cover: 0,
    totalGain: 0,
    totalCover: 0,
  }));
  for (const tree of te.trees) {
    for (let i = 0; i < tree.left.length; i++) {
      if (tree.left[i] === -1) continue;
      const row = rows[tree.feature[i] as number];
      if (!row) continue;
      row.weight += 1;
      row.totalGain += tree.gain?.[i] ?? 0;
      row.totalCover += tree.cover?.[i] ?? 0;
    }
  }
  for (const row of rows) {
    row.gain = row.weight > 0 ? row.totalGain / row.weight : 0;
    row.cover = row.weight > 0 ? row.totalCover / row.weight : 0;
  }
  return rows;
}
