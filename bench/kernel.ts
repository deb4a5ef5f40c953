/**
 * npx tsx bench/kernel.ts [KERNEL_MODULE] [--trees 562] [--depth 6] [--rows 2000] [--passes 30]: microseconds a row
 * for the scoring kernel on a random ensemble of complete trees (the default size of a tuned model). KERNEL_MODULE
 * is another copy of forest-kernel.ts to measure instead (e.g. an earlier commit's, to compare back to back).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { seededRandom } from '../src/core/dataset/random.js';
import { FEATURE_NAMES } from '../src/core/features/pipeline.js';
import type { ForestKernel } from '../src/core/models/forest-kernel.js';
import type { TreeArrays, TreeEnsemble } from '../src/core/models/trees.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const positional = args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1]!.startsWith('--')));
const modulePath = resolve(positional ?? resolve(import.meta.dirname, '../src/core/models/forest-kernel.ts'));
const { compileForestKernel } = (await import(pathToFileURL(modulePath).href)) as {
  compileForestKernel: (te: TreeEnsemble) => ForestKernel | null;
};

const nTrees = flag('trees', 562);
const depth = flag('depth', 6);
const nRows = flag('rows', 2000);
const passes = flag('passes', 30);
const nFeatures = FEATURE_NAMES.length;
const random = seededRandom(42);

/** A complete tree of the given depth with random splits (the kernel pads every tree to one anyway). */
function completeTree(): TreeArrays {
  const tree: TreeArrays = { left: [], right: [], feature: [], threshold: [], defaultLeft: [], value: [] };
  const grow = (level: number): number => {
    const i = tree.left.length;
    tree.left.push(-1);
    tree.right.push(-1);
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.defaultLeft.push(1);
    tree.value.push(Math.fround(random() - 0.5));
    if (level < depth) {
      tree.feature[i] = Math.floor(random() * nFeatures);
      tree.threshold[i] = Math.fround(random() * 4 - 2);
      tree.left[i] = grow(level + 1);
      tree.right[i] = grow(level + 1);
    }
    return i;
  };
  grow(0);
  return tree;
}

const te: TreeEnsemble = {
  kind: 'tree-ensemble',
  version: 1,
  objective: 'binary:logistic',
  baseMargin: 0,
  featureNames: [...FEATURE_NAMES],
  trees: Array.from({ length: nTrees }, completeTree),
};
const kernel = compileForestKernel(te);
if (!kernel) throw new Error('the kernel declined this ensemble');
const rows = Float64Array.from({ length: nRows * nFeatures }, () => random() * 6 - 3);

let sink = 0;
const pass = () => {
  const t0 = performance.now();
  for (let r = 0; r < nRows; r++) sink += kernel.margin(rows, r * nFeatures);
  return ((performance.now() - t0) * 1000) / nRows;
};
for (let i = 0; i < 5; i++) pass();
const times = Array.from({ length: passes }, pass).sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)]!;
process.stdout.write(
  `${JSON.stringify({ module: modulePath, trees: nTrees, depth, rows: nRows, features: nFeatures, usPerRowMedian: Number(median.toFixed(3)), usPerRowMin: Number(times[0]!.toFixed(3)), checksum: Number(sink.toFixed(3)) })}\n`,
);
