import { IntegrityError, UsageError } from '../errors.js';
import { compileForestKernel } from './forest-kernel.js';
import type { ForestKernel } from './forest-kernel.js';
import type { Matrix } from './matrix.js';

/**
 * One regression tree as parallel arrays over its nodes, root at index 0, children after their parent.
 * A leaf has left === right === -1 and its weight in value; a split sends a row left when
 * Math.fround(x[feature]) < threshold, and the default way (defaultLeft) when x[feature] is missing.
 */
export interface TreeArrays {
  left: number[];
  right: number[];
  feature: number[];
  threshold: number[];
  defaultLeft: (0 | 1)[];
  value: number[];
  gain?: number[];
  cover?: number[];
}

/** The engine-neutral model: margin = baseMargin + the leaves reached, probability = logistic(margin). */
export interface TreeEnsemble {
  kind: 'tree-ensemble';
  version: 1;
  objective: 'binary:logistic';
  baseMargin: number;
  featureNames: string[];
  trees: TreeArrays[];
}

export interface CompiledEnsemble {
  readonly nFeatures: number;
  readonly nTrees: number;
  readonly featureNames: readonly string[];
  predictMargin(row: ArrayLike<number>): number;
  predictProba(row: ArrayLike<number>): number;
  predictMatrix(X: Matrix): Float64Array;
  /** Adds trees [from, to) to float32 margins of X, tree by tree, calling afterTree after each. */
  accumulateMargins(
    X: Matrix,
    margins: Float32Array,
    from: number,
    to: number,
    afterTree?: (tree: number) => void,
  ): void;
}

export function sigmoid(margin: number): number {
  return 1 / (1 + Math.exp(-margin));
}

/** The first `nTrees` trees of an ensemble (what early stopping keeps). */
export function truncateEnsemble(te: TreeEnsemble, nTrees: number): TreeEnsemble {
  if (!Number.isInteger(nTrees) || nTrees < 0 || nTrees > te.trees.length) {
    throw new UsageError(`Cannot keep ${nTrees} trees of an ensemble of ${te.trees.length}.`);
  }
  return { ...te, featureNames: [...te.featureNames], trees: te.trees.slice(0, nTrees) };
}

function fail(message: string): never {
  throw new IntegrityError(`Invalid tree ensemble: ${message}.`);
}

function isArrayOf(value: unknown, n: number): value is unknown[] {
  return Array.isArray(value) && value.length === n;
}

/** Checks a value read from storage is a well-formed TreeEnsemble (IntegrityError otherwise). */
export function validateEnsemble(value: unknown): TreeEnsemble {
  if (typeof value !== 'object' || value === null) fail('not an object');
  const te = value as Record<string, unknown>;
  if (te['kind'] !== 'tree-ensemble') fail(`kind is ${JSON.stringify(te['kind'])}, not "tree-ensemble"`);
  if (te['version'] !== 1) fail(`version ${JSON.stringify(te['version'])} is not supported`);
  if (te['objective'] !== 'binary:logistic') fail(`objective ${JSON.stringify(te['objective'])} is not supported`);
  const base = te['baseMargin'];
  if (typeof base !== 'number' || !Number.isFinite(base)) fail('baseMargin is not a finite number');
  const names = te['featureNames'];
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) {
    fail('featureNames is not a non-empty list of names');
  }
  const trees = te['trees'];
  if (!Array.isArray(trees)) fail('trees is not a list');
  trees.forEach((tree: unknown, t) => {
    if (typeof tree !== 'object' || tree === null) fail(`tree ${t} is not an object`);
    const tr = tree as Record<string, unknown>;
    const left = tr['left'];
    if (!Array.isArray(left) || left.length === 0) fail(`tree ${t} has no nodes`);
    const n = left.length;
    for (const key of ['right', 'feature', 'threshold', 'defaultLeft', 'value'] as const) {
      if (!isArrayOf(tr[key], n)) fail(`tree ${t}: ${key} does not have ${n} entries`);
    }
    for (const key of ['gain', 'cover'] as const) {
      if (tr[key] !== undefined && !isArrayOf(tr[key], n)) fail(`tree ${t}: ${key} does not have ${n} entries`);
    }
    const right = tr['right'] as unknown[];
    const feature = tr['feature'] as unknown[];
    const threshold = tr['threshold'] as unknown[];
    const defaultLeft = tr['defaultLeft'] as unknown[];
    const val = tr['value'] as unknown[];
    for (let i = 0; i < n; i++) {
      const l = left[i];
      const r = right[i];
      if (typeof val[i] !== 'number' || !Number.isFinite(val[i])) fail(`tree ${t} node ${i}: value is not finite`);
      if (l === -1) {
        if (r !== -1) fail(`tree ${t} node ${i}: a leaf must have right === -1`);
        continue;
      }
      for (const c of [l, r]) {
        if (typeof c !== 'number' || !Number.isInteger(c) || c <= i || c >= n) {
          fail(`tree ${t} node ${i}: child ${String(c)} is not a later node of the tree`);
        }
      }
      const f = feature[i];
      if (typeof f !== 'number' || !Number.isInteger(f) || f < 0 || f >= names.length) {
        fail(`tree ${t} node ${i}: feature ${String(f)} is not one of the ${names.length} features`);
      }
      const th = threshold[i];
      if (typeof th !== 'number' || !Number.isFinite(th) || Math.fround(th) !== th) {
        fail(`tree ${t} node ${i}: threshold ${String(th)} is not a finite float32 value`);
      }
      if (defaultLeft[i] !== 0 && defaultLeft[i] !== 1) fail(`tree ${t} node ${i}: defaultLeft is not 0 or 1`);
    }
  });
  return value as TreeEnsemble;
}

/** Flattens an ensemble into typed arrays once, for scoring rows in a few microseconds. */
export function compileEnsemble(te: TreeEnsemble): CompiledEnsemble {
  const nTrees = te.trees.length;
  const nFeatures = te.featureNames.length;
  let total = 0;
  for (const tree of te.trees) total += tree.left.length;
  // Scoring a big ensemble is bound by cache misses, so each node is one 12-byte record and the nodes of a
  // tree are laid out in depth-first order: the left child is the next record, often on the same cache line
  // (about 3x faster than one array per field on 600 trees of depth 8).
  // Slots: feature | MISSING_LEFT (-1 at a leaf), threshold (float32 bits), right child (at a leaf: its value's index).
  const STRIDE = 3;
  const MISSING_LEFT = 1 << 16;
  const buffer = new ArrayBuffer(total * STRIDE * 4);
  const nodes = new Int32Array(buffer);
  const thresholds = new Float32Array(buffer);
  const roots = new Int32Array(nTrees);
  const value = new Float64Array(total);
  let next = 0;
  te.trees.forEach((tree, t) => {
    roots[t] = next * STRIDE;
    // Depth-first from the root (node 0); a slot left to fill with the right child once it is placed.
    const stack: Array<{ node: number; parentSlot: number }> = [{ node: 0, parentSlot: -1 }];
    while (stack.length > 0) {
      const { node, parentSlot } = stack.pop()!;
      const k = next * STRIDE;
      if (parentSlot >= 0) nodes[parentSlot] = k;
      const l = tree.left[node] as number;
      if (l === -1) {
        nodes[k] = -1;
        nodes[k + 2] = next;
        value[next] = tree.value[node] as number;
      } else {
        nodes[k] = (tree.feature[node] as number) | (tree.defaultLeft[node] === 1 ? MISSING_LEFT : 0);
        thresholds[k + 1] = tree.threshold[node] as number;
        // Right pushed first, so that the left subtree is placed right after this node.
        stack.push({ node: tree.right[node] as number, parentSlot: k + 2 }, { node: l, parentSlot: -1 });
      }
      next++;
    }
  });
  const base = Math.fround(te.baseMargin);
  const x = new Float32Array(nFeatures);

  /** The leaf a row reaches, as an index into `value`. */
  const leafOf = (root: number, row: ArrayLike<number>, at: number): number => {
    let n = root;
    for (;;) {
      const f = nodes[n] as number;
      if (f < 0) return nodes[n + 2] as number;
      const v = row[at + (f & 0xffff)] as number;
      // NaN is the only value not equal to itself: it takes the default way
      // biome-ignore lint/suspicious/noSelfCompare: the cheapest NaN test on a hot path
      const goLeft = v !== v ? (f & MISSING_LEFT) !== 0 : v < (thresholds[n + 1] as number);
      n = goLeft ? n + STRIDE : (nodes[n + 2] as number);
    }
  };

  // Built on the first row scored: ensembles compiled only to accumulate margins while training never need it.
  let kernel: ForestKernel | null | undefined;
  /** The margin of the row at `at`: the branch-free kernel when it can, else the walk above. */
  const marginAt = (row: ArrayLike<number>, at: number): number => {
    if (kernel === undefined) kernel = compileForestKernel(te);
    const k = kernel === null ? NaN : kernel.margin(row, at);
    // biome-ignore lint/suspicious/noSelfCompare: the cheapest NaN test on a hot path
    if (k === k) return k;
    // XGBoost compares float32 values: round once here instead of at every split
    for (let j = 0; j < nFeatures; j++) x[j] = row[at + j] as number;
    let m = base;
    for (let t = 0; t < nTrees; t++) m = Math.fround(m + (value[leafOf(roots[t] as number, x, 0)] as number));
    return m;
  };

  const predictMargin = (row: ArrayLike<number>): number => {
    if (row.length !== nFeatures) {
      throw new UsageError(`The model expects ${nFeatures} features, the row has ${row.length}.`);
    }
    return marginAt(row, 0);
  };

  const checkCols = (X: Matrix): void => {
    if (X.cols !== nFeatures)
      throw new UsageError(`The model expects ${nFeatures} features, the matrix has ${X.cols}.`);
  };

  return {
    nFeatures,
    nTrees,
    featureNames: te.featureNames,
    predictMargin,
    predictProba: (row) => sigmoid(predictMargin(row)),
    predictMatrix(X) {
      checkCols(X);
      const out = new Float64Array(X.rows);
      for (let i = 0; i < X.rows; i++) out[i] = sigmoid(marginAt(X.data, i * nFeatures));
      return out;
    },
    accumulateMargins(X, margins, from, to, afterTree) {
      checkCols(X);
      if (margins.length !== X.rows) throw new UsageError('accumulateMargins needs one margin per row.');
      for (let t = Math.max(0, from); t < Math.min(to, nTrees); t++) {
        const root = roots[t] as number;
        for (let i = 0; i < X.rows; i++)
          margins[i] = (margins[i] as number) + (value[leafOf(root, X.data, i * nFeatures)] as number);
        afterTree?.(t);
      }
    },
  };
}
