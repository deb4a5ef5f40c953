import type { TreeEnsemble } from './trees.js';
import { FunctionBuilder, wasmModule } from './wasm-builder.js';
import type { Local } from './wasm-builder.js';

/**
 * Scores one row of a tree ensemble in WebAssembly, without a single data-dependent branch: every tree is
 * padded to a complete tree of the ensemble's depth, so a walk is `depth` steps of
 * `i = 2i + 1 + (x[feature] >= threshold)`. A walk through pointer-linked nodes mispredicts about every other
 * branch, and that, not memory, was most of the cost of a prediction. Rows with a missing (NaN) value are not
 * this kernel's: the caller sends those down the ordinary walk, which knows each split's default way.
 */
export interface ForestKernel {
  /** The margin of the row at `at` (baseMargin included), or NaN when one of its values is missing. */
  margin(row: ArrayLike<number>, at: number): number;
}

/** Deeper ensembles grow as 2^depth per tree; past these the ordinary walk serves instead. */
const MAX_DEPTH = 12;
const MAX_BYTES = 256 * 1024 * 1024;

const PAGE = 65536;

// The ES library this project compiles against declares no WebAssembly API; these are the parts used here.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Trees walked side by side: independent chains of loads keep the CPU busy while each waits for memory (8: 2.5 us a row against 4.3 us for one at a time, 562 trees). */
const LANES = 8;

/**
 * `margin(groups, nodes, leaves, base)`: walks LANES trees at a time for `groups` groups and returns base plus
 * their leaves. Memory holds the row's features, then each tree's nodes as 8-byte records (the feature's byte
 * offset, the threshold) in complete-tree order, then each tree's leaves. Depth and strides are baked into the
 * code as constants and load offsets, so lane k's node i of the current group sits at nodes + 8i + k * nodeStride.
 */
function marginFunction(depth: number, nodeStride: number, leafStride: number): FunctionBuilder {
  const fn = new FunctionBuilder('margin', ['i32', 'i32', 'i32', 'f32'], ['f32']);
  const [groups, nodes, leaves, base] = fn.params as [Local, Local, Local, Local];
  const levelsLeft = fn.local('i32');
  const sum = fn.local('f32');
  const lanes = Array.from({ length: LANES }, (_, k) => k);
  const record = lanes.map(() => fn.local('i32'));
  const node = lanes.map(() => fn.local('i32'));
  const c = fn.code;

  c.localGet(base).localSet(sum);
  c.block((done) =>
    c.loop((nextGroup) => {
      c.localGet(groups).i32Eqz().brIf(done);
      for (const k of lanes) c.i32Const(0).localSet(node[k]!);
      c.i32Const(depth).localSet(levelsLeft);
      c.loop((nextLevel) => {
        for (const k of lanes) {
          // node = 2 * node + 1 + (x[feature] >= threshold)
          c.localGet(node[k]!).i32Const(1).i32Shl().i32Const(1).i32Add();
          c.localGet(nodes).localGet(node[k]!).i32Const(3).i32Shl().i32Add().localTee(record[k]!);
          c.i32Load(k * nodeStride).f32Load(0); // x[feature]: the record's first word is the feature's byte offset
          c.localGet(record[k]!).f32Load(k * nodeStride + 4); // the threshold
          c.f32Ge().i32Add().localSet(node[k]!);
        }
        c.localGet(levelsLeft).i32Const(1).i32Sub().localTee(levelsLeft).brIf(nextLevel);
      });
      // `leaves` points `internal` floats before the group's first leaves, so leaf `node` sits at leaves + 4 * node.
      for (const k of lanes) {
        c.localGet(sum)
          .localGet(leaves)
          .localGet(node[k]!)
          .i32Const(2)
          .i32Shl()
          .i32Add()
          .f32Load(k * leafStride);
        c.f32Add().localSet(sum);
      }
      c.localGet(nodes)
        .i32Const(LANES * nodeStride)
        .i32Add()
        .localSet(nodes);
      c.localGet(leaves)
        .i32Const(LANES * leafStride)
        .i32Add()
        .localSet(leaves);
      c.localGet(groups).i32Const(1).i32Sub().localSet(groups);
      c.br(nextGroup);
    }),
  );
  c.localGet(sum);
  return fn;
}

function depthOf(tree: TreeEnsemble['trees'][number]): number {
  let max = 0;
  const stack: Array<[number, number]> = [[0, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    const l = tree.left[node] as number;
    if (l === -1) max = Math.max(max, depth);
    else stack.push([l, depth + 1], [tree.right[node] as number, depth + 1]);
  }
  return max;
}

/** The kernel of an ensemble, or null when the ensemble is too deep or too big to pad to complete trees. */
export function compileForestKernel(te: TreeEnsemble): ForestKernel | null {
  // Padded to whole groups with trees whose every leaf is 0 (adding 0 leaves a float32 sum as it is).
  const nTrees = Math.ceil(te.trees.length / LANES) * LANES;
  const nFeatures = te.featureNames.length;
  // At least one level, so that a walk always ends on the leaf level (a tree of one leaf is padded too).
  const depth = te.trees.reduce((d, tree) => Math.max(d, depthOf(tree)), 1);
  if (depth > MAX_DEPTH) return null;
  const internal = 2 ** depth - 1;
  const leaves = 2 ** depth;
  const xBytes = Math.ceil((nFeatures * 4) / 8) * 8;
  const nodeBytes = nTrees * internal * 8;
  const total = xBytes + nodeBytes + nTrees * leaves * 4;
  if (total > MAX_BYTES) return null;

  const bytes = wasmModule([marginFunction(depth, internal * 8, leaves * 4)], Math.ceil(total / PAGE));
  const instance = new wasmApi.Instance(new wasmApi.Module(bytes));
  const memory = instance.exports.memory as { buffer: ArrayBuffer };
  const marginOf = instance.exports.margin as (...args: number[]) => number;

  const x = new Float32Array(memory.buffer, 0, nFeatures);
  const records = new Int32Array(memory.buffer, xBytes, nTrees * internal * 2);
  const thresholds = new Float32Array(memory.buffer, xBytes, nTrees * internal * 2);
  const leafValues = new Float32Array(memory.buffer, xBytes + nodeBytes, nTrees * leaves);

  te.trees.forEach((tree, t) => {
    const nodeBase = t * internal;
    const leafBase = t * leaves;
    // Places `node` at position `pos` of the complete tree; a leaf above the last level fills its whole subtree.
    const place = (node: number, pos: number, level: number): void => {
      if (level === depth) {
        leafValues[leafBase + pos - internal] = tree.value[node] as number;
        return;
      }
      const l = tree.left[node] as number;
      const r = (nodeBase + pos) * 2;
      if (l === -1) {
        // Either way leads to the same value: the split is a placeholder.
        records[r] = 0;
        thresholds[r + 1] = 0;
        place(node, 2 * pos + 1, level + 1);
        place(node, 2 * pos + 2, level + 1);
      } else {
        records[r] = (tree.feature[node] as number) * 4;
        thresholds[r + 1] = tree.threshold[node] as number;
        place(l, 2 * pos + 1, level + 1);
        place(tree.right[node] as number, 2 * pos + 2, level + 1);
      }
    };
    place(0, 0, 0);
  });

  const base = Math.fround(te.baseMargin);
  const leavesArg = xBytes + nodeBytes - internal * 4;
  return {
    margin(row, at) {
      for (let j = 0; j < nFeatures; j++) {
        const v = row[at + j] as number;
        // biome-ignore lint/suspicious/noSelfCompare: the cheapest NaN test on a hot path
        if (v !== v) return NaN;
        x[j] = v;
      }
      return marginOf(nTrees / LANES, xBytes, leavesArg, base);
    },
  };
}
