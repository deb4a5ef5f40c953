import { createRequire } from 'node:module';
import { seededRandom } from '../dataset/random.js';
import { UsageError } from '../errors.js';
import { checkTrainingData } from './matrix.js';
import type { Matrix } from './matrix.js';
import type { TreeArrays, TreeEnsemble } from './trees.js';

export interface CartOptions {
  maxDepth?: number;
  minNumSamples?: number;
  seed?: number;
  /** Rows drawn (stratified) for training: ml-cart is quadratic, 5,000 rows take ~18 s. */
  sampleSize?: number;
  gainThreshold?: number;
}

/** ml-cart's classifier, as far as it is used here (the package ships no types). */
export interface CartClassifier {
  train(X: number[][], y: number[]): void;
  predict(X: number[][]): number[];
  toJSON(): unknown;
}

interface CartNodeJson {
  splitColumn?: number;
  splitValue?: number;
  gain?: number;
  left?: CartNodeJson;
  right?: CartNodeJson;
  distribution?: number[][];
}

export interface CartResult {
  ensemble: TreeEnsemble;
  classifier: CartClassifier;
  /** Indices of the rows trained on, ascending. */
  sample: Int32Array;
  /** Column means of the sample, used for missing values in training. */
  fillValues: Float64Array;
}

const require = createRequire(import.meta.url);
/** Leaf probabilities are kept inside [EPS, 1 - EPS] so that their logit is finite. */
const EPS = 1e-6;

/** A seeded sample keeping the class balance, indices ascending. */
export function stratifiedSample(y: ArrayLike<number>, size: number, seed: number): Int32Array {
  if (size >= y.length) return Int32Array.from({ length: y.length }, (_, i) => i);
  const rand = seededRandom(seed);
  const byClass: number[][] = [[], []];
  for (let i = 0; i < y.length; i++) (byClass[y[i] === 1 ? 1 : 0] as number[]).push(i);
  const picked: number[] = [];
  for (const rows of byClass) {
    const take = Math.round((size * rows.length) / y.length);
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(rand() * (rows.length - i));
      [rows[i], rows[j]] = [rows[j] as number, rows[i] as number];
      picked.push(rows[i] as number);
    }
  }
  return Int32Array.from(picked).sort();
}

/** The smallest float32 >= t: for float32 inputs, x < t exactly when x < ceilFloat32(t). */
export function ceilFloat32(t: number): number {
  const f = Math.fround(t);
  if (f >= t) return f;
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, f);
  const bits = buf.getInt32(0);
  if (f === 0) buf.setInt32(0, 1);
  else buf.setInt32(0, f > 0 ? bits + 1 : bits - 1);
  return buf.getFloat32(0);
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new UsageError(`CART ${name} must be a whole number from ${min} to ${max} (got ${v}).`);
  return v;
}

/** Trains ml-cart on a stratified sample and converts its tree to the engine-neutral form. */
export function trainCart(
  X: Matrix,
  y: Float32Array,
  featureNames: readonly string[],
  options: CartOptions = {},
): CartResult {
  checkTrainingData(X, y);
  if (featureNames.length !== X.cols)
    throw new UsageError(`${featureNames.length} feature names for ${X.cols} columns.`);
  const maxDepth = checkInt('maxDepth', options.maxDepth ?? 6, 1, 30);
  const minNumSamples = checkInt('minNumSamples', options.minNumSamples ?? 3, 1, 1_000_000);
  const seed = checkInt('seed', options.seed ?? 0, 0, 2 ** 31 - 1);
  const sampleSize = checkInt('sampleSize', options.sampleSize ?? 2000, 2, 20_000);
  const gainThreshold = options.gainThreshold ?? 0.01;
  const sample = stratifiedSample(y, sampleSize, seed);

  const cols = X.cols;
  const sums = new Float64Array(cols);
  const counts = new Float64Array(cols);
  for (const i of sample) {
    for (let j = 0; j < cols; j++) {
      const v = X.data[i * cols + j] as number;
      if (!Number.isNaN(v)) {
        sums[j] = (sums[j] as number) + v;
        counts[j] = (counts[j] as number) + 1;
      }
    }
  }
  const fill = sums.map((s, j) => ((counts[j] as number) > 0 ? s / (counts[j] as number) : 0));
  const rows: number[][] = [];
  const labels: number[] = [];
  for (const i of sample) {
    const row = Array.from(X.data.subarray(i * cols, (i + 1) * cols), (v, j) =>
      Number.isNaN(v) ? (fill[j] as number) : v,
    );
    rows.push(row);
    labels.push(y[i] as number);
  }
  const { DecisionTreeClassifier } = require('ml-cart') as {
    DecisionTreeClassifier: new (o: object) => CartClassifier;
  };
  const classifier = new DecisionTreeClassifier({ maxDepth, minNumSamples, gainThreshold });
  classifier.train(rows, labels);
  const json = JSON.parse(JSON.stringify(classifier.toJSON())) as { root: CartNodeJson };

  const tree: Required<TreeArrays> = {
    left: [],
    right: [],
    feature: [],
    threshold: [],
    defaultLeft: [],
    value: [],
    gain: [],
    cover: [],
  };
  const visit = (node: CartNodeJson): number => {
    const id = tree.left.length;
    const leaf = node.distribution !== undefined || !node.left || !node.right;
    const f = node.splitColumn ?? 0;
    const t = leaf ? 0 : ceilFloat32(node.splitValue as number);
    const p1 = node.distribution?.[0]?.[1] ?? 0;
    tree.left.push(-1);
    tree.right.push(-1);
    tree.feature.push(leaf ? -1 : f);
    tree.threshold.push(t);
    // a missing value goes where the sample mean it was trained with would go
    tree.defaultLeft.push(!leaf && (fill[f] as number) < (node.splitValue as number) ? 1 : 0);
    const p = Math.min(Math.max(p1, EPS), 1 - EPS);
    tree.value.push(leaf ? Math.log(p / (1 - p)) : 0);
    tree.gain.push(leaf ? 0 : (node.gain ?? 0));
    tree.cover.push(0);
    if (!leaf) {
      tree.left[id] = visit(node.left as CartNodeJson);
      tree.right[id] = visit(node.right as CartNodeJson);
    }
    return id;
  };
  visit(json.root);
  // ml-cart keeps no leaf counts: cover is the number of sample rows through each node
  for (const row of rows) {
    let n = 0;
    for (;;) {
      tree.cover[n] = (tree.cover[n] as number) + 1;
      if (tree.left[n] === -1) break;
      n =
        (row[tree.feature[n] as number] as number) < (tree.threshold[n] as number)
          ? (tree.left[n] as number)
          : (tree.right[n] as number);
    }
  }
  const ensemble: TreeEnsemble = {
    kind: 'tree-ensemble',
    version: 1,
    objective: 'binary:logistic',
    baseMargin: 0,
    featureNames: [...featureNames],
    trees: [tree],
  };
  return { ensemble, classifier, sample, fillValues: fill };
}
