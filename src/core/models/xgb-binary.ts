import { IntegrityError, UsageError } from '../errors.js';
import type { TreeArrays, TreeEnsemble } from './trees.js';

/** One tree as stored: XGBoost's node slots, deleted ones included. */
export interface RawTree {
  numNodes: number;
  left: Int32Array;
  right: Int32Array;
  /** Feature index in the low 31 bits, default-left in the top bit. */
  sindex: Uint32Array;
  /** Split condition, or the leaf value when left is -1. */
  info: Float32Array;
  gain: Float32Array;
  cover: Float32Array;
  baseWeight: Float32Array;
}

/** XGBoost's binary model layout (pre-1.0, as the wasm engine writes it, or 1.x's "deprecated" format). */
export interface XgbBinaryModel {
  /** 0 for models written before XGBoost 1.0 (base_score is then already a margin). */
  majorVersion: number;
  minorVersion: number;
  baseScore: number;
  baseMargin: number;
  numFeature: number;
  objective: string;
  booster: string;
  trees: RawTree[];
  /** Byte ranges used to rewrite the file without re-encoding it. */
  layout: { gbtreeHeader: number; treeStarts: number[]; treeInfo: number; tail: number };
}

const MAGIC_1X = 0x666e6962; // "binf", written first by XGBoost 1.x
const HEADER = 136;
const GBTREE_HEADER = 160;
const TREE_HEADER = 148;
const NODE = 20;
const STAT = 16;

function bad(message: string): never {
  throw new IntegrityError(`Not a usable XGBoost binary model: ${message}.`);
}

class Reader {
  private readonly view: DataView;
  constructor(
    private readonly bytes: Uint8Array,
    public pos = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) bad(`the bytes end inside the ${what}`);
  }
  i32(at: number): number {
    return this.view.getInt32(at, true);
  }
  u32(at: number): number {
    return this.view.getUint32(at, true);
  }
  f32(at: number): number {
    return this.view.getFloat32(at, true);
  }
  string(what: string): string {
    this.need(8, what);
    const len = this.view.getBigUint64(this.pos, true);
    if (len > 1024n) bad(`the ${what} is ${len} bytes long`);
    this.pos += 8;
    this.need(Number(len), what);
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + Number(len)));
    this.pos += Number(len);
    return s;
  }
}

export function parseXgbBinary(bytes: Uint8Array): XgbBinaryModel {
  const r = new Reader(bytes);
  if (bytes.length >= 4 && r.u32(0) === MAGIC_1X) r.pos = 4;
  if (bytes.length > 0 && (bytes[0] === 0x7b || bytes[0] === 0x5b))
    bad('these bytes are a JSON model, not the binary layout');
  r.need(HEADER, 'learner header');
  const h = r.pos;
  const baseScore = r.f32(h);
  const numFeature = r.u32(h + 4);
  const numClass = r.i32(h + 8);
  const majorVersion = r.u32(h + 20);
  const minorVersion = r.u32(h + 24);
  r.pos += HEADER;
  const objective = r.string('objective name');
  const booster = r.string('booster name');
  if (booster !== 'gbtree') bad(`booster is "${booster}", only gbtree is supported`);
  if (objective !== 'binary:logistic') bad(`objective is "${objective}", only binary:logistic is supported`);
  if (numClass > 1) bad(`it has ${numClass} classes`);
  if (majorVersion > 100) bad(`version ${majorVersion} in the header makes no sense`);

  r.need(GBTREE_HEADER, 'gbtree header');
  const g = r.pos;
  const numTrees = r.i32(g);
  const numOutputGroup = r.i32(g + 24);
  const sizeLeafVector = r.i32(g + 28);
  const numPbuffer = new DataView(bytes.buffer, bytes.byteOffset + g + 16, 8).getBigInt64(0, true);
  if (numTrees < 0 || numTrees > 1_000_000) bad(`it claims ${numTrees} trees`);
  // 1.x leaves the deprecated num_output_group at 0
  if (numOutputGroup > 1 || sizeLeafVector !== 0 || numPbuffer !== 0n) {
    bad('only one output group, no leaf vectors and no prediction buffer are supported');
  }
  r.pos += GBTREE_HEADER;

  const trees: RawTree[] = [];
  const treeStarts: number[] = [];
  for (let t = 0; t < numTrees; t++) {
    treeStarts.push(r.pos);
    r.need(TREE_HEADER, `header of tree ${t}`);
    const numRoots = r.i32(r.pos);
    const numNodes = r.i32(r.pos + 4);
    const treeLeafVector = r.i32(r.pos + 20);
    if (numRoots !== 1 || treeLeafVector !== 0) bad(`tree ${t} has ${numRoots} roots or leaf vectors`);
    if (numNodes < 1 || numNodes > 10_000_000) bad(`tree ${t} claims ${numNodes} nodes`);
    r.pos += TREE_HEADER;
    r.need(numNodes * (NODE + STAT), `nodes of tree ${t}`);
    const tree: RawTree = {
      numNodes,
      left: new Int32Array(numNodes),
      right: new Int32Array(numNodes),
      sindex: new Uint32Array(numNodes),
      info: new Float32Array(numNodes),
      gain: new Float32Array(numNodes),
      cover: new Float32Array(numNodes),
      baseWeight: new Float32Array(numNodes),
    };
    for (let i = 0; i < numNodes; i++) {
      const at = r.pos + i * NODE;
      tree.left[i] = r.i32(at + 4);
      tree.right[i] = r.i32(at + 8);
      tree.sindex[i] = r.u32(at + 12);
      tree.info[i] = r.f32(at + 16);
    }
    r.pos += numNodes * NODE;
    for (let i = 0; i < numNodes; i++) {
      const at = r.pos + i * STAT;
      tree.gain[i] = r.f32(at);
      tree.cover[i] = r.f32(at + 4);
      tree.baseWeight[i] = r.f32(at + 8);
    }
    r.pos += numNodes * STAT;
    trees.push(tree);
  }
  const treeInfo = r.pos;
  if (numTrees > 0) {
    r.need(4 * numTrees, 'tree info');
    r.pos += 4 * numTrees;
  }
  // before 1.0 base_score is stored as a margin; 1.x stores the probability
  const baseMargin =
    majorVersion === 0 ? baseScore : Math.fround(-Math.log(Math.fround(Math.fround(1 / baseScore) - 1)));
  if (!Number.isFinite(baseMargin)) bad(`base_score ${baseScore} gives no finite margin`);
  return {
    majorVersion,
    minorVersion,
    baseScore,
    baseMargin,
    numFeature,
    objective,
    booster,
    trees,
    layout: { gbtreeHeader: g, treeStarts, treeInfo, tail: r.pos },
  };
}

/** The same model bytes keeping only the first nTrees trees (everything else byte for byte). */
export function truncateXgbBinary(bytes: Uint8Array, nTrees: number): Uint8Array {
  const model = parseXgbBinary(bytes);
  const total = model.trees.length;
  if (!Number.isInteger(nTrees) || nTrees < 0 || nTrees > total) {
    throw new UsageError(`Cannot keep ${nTrees} trees of a model of ${total}.`);
  }
  if (nTrees === total) return bytes.slice();
  const { gbtreeHeader, treeStarts, treeInfo, tail } = model.layout;
  const treesEnd = nTrees < total ? (treeStarts[nTrees] as number) : treeInfo;
  const parts = [bytes.subarray(0, treesEnd), bytes.subarray(treeInfo, treeInfo + 4 * nTrees), bytes.subarray(tail)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  new DataView(out.buffer).setInt32(gbtreeHeader, nTrees, true);
  return out;
}

/** The engine-neutral form: reachable nodes only, numbered depth first so children follow parents. */
export function xgbBinaryToEnsemble(model: XgbBinaryModel, featureNames: readonly string[]): TreeEnsemble {
  if (featureNames.length !== model.numFeature) {
    throw new UsageError(
      `The model was trained on ${model.numFeature} features, ${featureNames.length} names were given.`,
    );
  }
  const trees = model.trees.map((raw, t): TreeArrays => {
    const out: Required<TreeArrays> = {
      left: [],
      right: [],
      feature: [],
      threshold: [],
      defaultLeft: [],
      value: [],
      gain: [],
      cover: [],
    };
    const visit = (node: number, depth: number): number => {
      if (node < 0 || node >= raw.numNodes || depth > 256) bad(`tree ${t} links to node ${node}`);
      const id = out.left.length;
      const l = raw.left[node] as number;
      const isLeaf = l === -1;
      const f = (raw.sindex[node] as number) & 0x7fffffff;
      if (!isLeaf && f >= model.numFeature) bad(`tree ${t} splits on feature ${f}`);
      out.left.push(-1);
      out.right.push(-1);
      out.feature.push(isLeaf ? -1 : f);
      out.threshold.push(isLeaf ? 0 : (raw.info[node] as number));
      out.defaultLeft.push(!isLeaf && (raw.sindex[node] as number) >>> 31 === 1 ? 1 : 0);
      out.value.push(isLeaf ? (raw.info[node] as number) : (raw.baseWeight[node] as number));
      out.gain.push(isLeaf ? 0 : (raw.gain[node] as number));
      out.cover.push(raw.cover[node] as number);
      if (!isLeaf) {
        out.left[id] = visit(l, depth + 1);
        out.right[id] = visit(raw.right[node] as number, depth + 1);
      }
      return id;
    };
    visit(0, 0);
    return out;
  });
  return {
    kind: 'tree-ensemble',
    version: 1,
    objective: 'binary:logistic',
    baseMargin: model.baseMargin === 0 ? 0 : model.baseMargin,
    featureNames: [...featureNames],
    trees,
  };
}
