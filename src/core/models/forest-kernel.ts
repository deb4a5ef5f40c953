import type { TreeEnsemble } from './trees.js';
import { F32, I32, op, sleb, uleb, wasmModule } from './wasm-bytes.js';

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

const get = (l: number) => [op.localGet, l];
const set = (l: number) => [op.localSet, l];
const i32 = (n: number) => [op.i32Const, ...sleb(n)];
const memarg = (offset: number) => [2, ...uleb(offset)];

/** Trees walked side by side: independent chains of loads keep the CPU busy while each waits for memory (8: 2.5 us a row against 4.3 us for one at a time, 562 trees). */
const LANES = 8;

/**
 * `margin(groups, nodes, leaves, base)`: walks LANES trees at a time for `groups` groups. Depth and strides
 * are baked into the code as constants and memory offsets.
 */
function marginBody(depth: number, nodeStride: number, leafStride: number): { locals: number[]; body: number[] } {
  const [GROUPS, NODES, LEAVES, BASE, D, M] = [0, 1, 2, 3, 4, 5];
  const rec = (k: number) => 6 + k;
  const idx = (k: number) => 6 + LANES + k;
  const body: number[] = [...get(BASE), ...set(M), op.block, op.voidBlock, op.loop, op.voidBlock, ...get(GROUPS), op.i32Eqz, op.brIf, 1];
  for (let k = 0; k < LANES; k++) body.push(...i32(0), ...set(idx(k)));
  body.push(...i32(depth), ...set(D), op.loop, op.voidBlock);
  for (let k = 0; k < LANES; k++) {
    // i = 2i + 1 + (x[feature] >= threshold), one 8-byte record (feature byte offset, threshold) per node
    body.push(
      ...get(idx(k)), ...i32(1), op.i32Shl, ...i32(1), op.i32Add,
      ...get(NODES), ...get(idx(k)), ...i32(3), op.i32Shl, op.i32Add, op.localTee, rec(k),
      op.i32Load, ...memarg(k * nodeStride),
      op.f32Load, ...memarg(0),
      ...get(rec(k)), op.f32Load, ...memarg(k * nodeStride + 4),
      op.f32Ge, op.i32Add, ...set(idx(k)),
    );
  }
  body.push(...get(D), ...i32(1), op.i32Sub, op.localTee, D, op.brIf, 0, op.end);
  // LEAVES points `internal` floats before the first tree's leaves, so leaf i sits at LEAVES + 4i
  for (let k = 0; k < LANES; k++) {
    body.push(...get(M), ...get(LEAVES), ...get(idx(k)), ...i32(2), op.i32Shl, op.i32Add, op.f32Load, ...memarg(k * leafStride), op.f32Add, ...set(M));
  }
  body.push(
    ...get(NODES), ...i32(LANES * nodeStride), op.i32Add, ...set(NODES),
    ...get(LEAVES), ...i32(LANES * leafStride), op.i32Add, ...set(LEAVES),
    ...get(GROUPS), ...i32(1), op.i32Sub, ...set(GROUPS),
    op.br, 0, op.end, op.end, ...get(M),
  );
  return { locals: [I32, F32, ...Array<number>(2 * LANES).fill(I32)], body };
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

  const bytes = wasmModule([{ name: 'margin', params: [I32, I32, I32, F32], results: [F32], ...marginBody(depth, internal * 8, leaves * 4) }], Math.ceil(total / PAGE));
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
        if (v !== v) return NaN;
        x[j] = v;
      }
      return marginOf(nTrees / LANES, xBytes, leavesArg, base);
    },
  };
}
