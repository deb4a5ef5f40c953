import type { TreeEnsemble } from '../../src/core/models/trees.js';

/** The smallest ensemble a bundle holds: one tree, one leaf, one feature. */
export const ONE_LEAF: TreeEnsemble = {
  kind: 'tree-ensemble',
  version: 1,
  objective: 'binary:logistic',
  baseMargin: 0,
  featureNames: ['a'],
  trees: [{ left: [-1], right: [-1], feature: [-1], threshold: [0], defaultLeft: [0], value: [0.5] }],
};
