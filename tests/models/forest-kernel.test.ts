import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/core/dataset/random.js';
import { compileForestKernel } from '../../src/core/models/forest-kernel.js';
import type { TreeArrays, TreeEnsemble } from '../../src/core/models/trees.js';
import { FunctionBuilder, sleb, uleb, wasmModule } from '../../src/core/models/wasm-builder.js';
import type { Label, Local } from '../../src/core/models/wasm-builder.js';

/** XGBoost's rule, written the plain way: left when fround(x) < threshold, the default way when missing. */
function reference(te: TreeEnsemble, row: number[]): number {
  let m = Math.fround(te.baseMargin);
  for (const tree of te.trees) {
    let n = 0;
    while (tree.left[n] !== -1) {
      const v = Math.fround(row[tree.feature[n]!]!);
      const left = Number.isNaN(v) ? tree.defaultLeft[n] === 1 : v < tree.threshold[n]!;
      n = left ? tree.left[n]! : tree.right[n]!;
    }
    m = Math.fround(m + tree.value[n]!);
  }
  return m;
}

/** A random tree whose leaves sit at any depth up to maxDepth (so most are unbalanced). */
function randomTree(random: () => number, nFeatures: number, maxDepth: number, thresholds: number[]): TreeArrays {
  const tree: TreeArrays = { left: [], right: [], feature: [], threshold: [], defaultLeft: [], value: [] };
  const grow = (depth: number): number => {
    const i = tree.left.length;
    tree.left.push(-1);
    tree.right.push(-1);
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.defaultLeft.push(random() < 0.5 ? 1 : 0);
    tree.value.push(Math.fround(random() - 0.5));
    if (depth < maxDepth && (depth === 0 || random() < 0.8)) {
      tree.feature[i] = Math.floor(random() * nFeatures);
      tree.threshold[i] = thresholds[Math.floor(random() * thresholds.length)]!;
      tree.value[i] = 0;
      tree.left[i] = grow(depth + 1);
      tree.right[i] = grow(depth + 1);
    }
    return i;
  };
  grow(0);
  return tree;
}

function randomEnsemble(seed: number, nTrees: number, maxDepth: number, nFeatures = 5): TreeEnsemble {
  const random = seededRandom(seed);
  // Few distinct thresholds, so that rows often land exactly on one.
  const thresholds = [-1, -0.25, 0, Math.fround(0.1), 0.5, 2];
  return {
    kind: 'tree-ensemble',
    version: 1,
    objective: 'binary:logistic',
    baseMargin: Math.fround(random() - 0.5),
    featureNames: Array.from({ length: nFeatures }, (_, j) => `x${j}`),
    trees: Array.from({ length: nTrees }, () => randomTree(random, nFeatures, maxDepth, thresholds)),
  };
}

describe('compileForestKernel', () => {
  it.each([1, 2, 6, 9])('gives exactly the margin of the plain walk on trees up to depth %i', (maxDepth) => {
    const te = randomEnsemble(maxDepth, 37, maxDepth);
    const kernel = compileForestKernel(te)!;
    const random = seededRandom(100 + maxDepth);
    const values = [-1, -0.25, 0, 0.1, Math.fround(0.1), 0.5, 2, -Infinity, Infinity, 1e40];
    for (let r = 0; r < 500; r++) {
      const row = Array.from({ length: 5 }, () =>
        random() < 0.5 ? values[Math.floor(random() * values.length)]! : random() * 6 - 3,
      );
      expect(kernel.margin(row, 0)).toBe(reference(te, row));
    }
  });

  it('reads the row at an offset of a longer array', () => {
    const te = randomEnsemble(7, 10, 4);
    const kernel = compileForestKernel(te)!;
    const rows = Float64Array.from({ length: 15 }, (_, i) => (i % 7) / 3 - 1);
    expect(kernel.margin(rows, 10)).toBe(reference(te, Array.from(rows.subarray(10, 15))));
  });

  it('scores trees of a single leaf (no split at all)', () => {
    const te: TreeEnsemble = {
      ...randomEnsemble(3, 0, 1, 2),
      trees: [{ left: [-1], right: [-1], feature: [-1], threshold: [0], defaultLeft: [0], value: [0.75] }],
    };
    expect(compileForestKernel(te)!.margin([1, 2], 0)).toBe(reference(te, [1, 2]));
  });

  it('leaves a row with a missing value to the walk that knows the default ways', () => {
    const kernel = compileForestKernel(randomEnsemble(5, 10, 4))!;
    expect(kernel.margin([0, 1, Number.NaN, 0, 0], 0)).toBeNaN();
  });

  it('declines ensembles too deep to pad to complete trees', () => {
    expect(compileForestKernel(randomEnsemble(11, 2, 13))).toBeNull();
  });
});

describe('wasm integers', () => {
  it('encodes LEB128 like the format says', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });
});

// The ES library this project compiles against declares no WebAssembly API; these are the parts used here.
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (b: Uint8Array) => object;
      Instance: new (m: object) => { exports: Record<string, unknown> };
    };
  }
).WebAssembly;
const instantiate = (fn: FunctionBuilder) => new wasm.Instance(new wasm.Module(wasmModule([fn], 1))).exports;

describe('wasm builder', () => {
  it('resolves branches by label: br_if leaves the block, br repeats the loop', () => {
    // sum(n) = n + (n - 1) + ... + 1, counting down in a loop inside a block
    const fn = new FunctionBuilder('sum', ['i32'], ['i32']);
    const [n] = fn.params as [Local];
    const total = fn.local('i32');
    const c = fn.code;
    c.block((done) =>
      c.loop((again) => {
        c.localGet(n).i32Eqz().brIf(done);
        c.localGet(total).localGet(n).i32Add().localSet(total);
        c.localGet(n).i32Const(1).i32Sub().localSet(n);
        c.br(again);
      }),
    );
    c.localGet(total);
    const sum = instantiate(fn).sum as (n: number) => number;
    expect([0, 1, 10, 1000].map(sum)).toEqual([0, 1, 55, 500500]);
  });

  it('loads and compares float32 values at offsets from an address', () => {
    const fn = new FunctionBuilder('ge', ['i32'], ['i32']);
    const [at] = fn.params as [Local];
    fn.code.localGet(at).f32Load(0).localGet(at).f32Load(4).f32Ge();
    const exports = instantiate(fn);
    const mem = new Float32Array((exports.memory as { buffer: ArrayBuffer }).buffer);
    mem.set([2, 1, Number.NaN, 1], 0);
    const ge = exports.ge as (at: number) => number;
    expect([ge(0), ge(4), ge(8)]).toEqual([1, 0, 0]);
  });

  it('refuses a branch to a block that does not enclose it', () => {
    const fn = new FunctionBuilder('f', [], []);
    let outside: Label | undefined;
    fn.code.block((l) => (outside = l));
    expect(() => fn.code.br(outside!)).toThrow(/does not enclose/);
  });
});
