/** Row indices of each side of a split, ascending: rows keep their source order. */
export interface Split {
  train: Uint32Array;
  test: Uint32Array;
}

export function testCount(rows: number, testSize: number): number {
  return Math.ceil(testSize * rows);
}

/** Splits test counts across classes in proportion, largest remainder first, so they sum to the total. */
export function allocate(total: number, classCounts: number[]): number[] {
  const n = classCounts.reduce((a, b) => a + b, 0);
  const exact = classCounts.map((c) => (total * c) / n);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, frac: e - Math.floor(e) })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (left === 0) break;
    if (out[i]! < classCounts[i]!) {
      out[i]!++;
      left--;
    }
  }
  return out;
}

/** FNV-1a over the seed and a row key: a stable pseudo-random rank for the row. */
function rowHash(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // A final avalanche so that keys differing in their last characters spread over the whole range.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

/**
 * A seeded split stratified on a class label (0..k-1 per row). Rows are ranked by a hash of their key
 * (e.g. Date and Location), so a row keeps its side across data set versions that contain it: a
 * model trained on an earlier version has (nearly) never seen a later version's test rows.
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  testSize: number,
  seed: number,
  keys?: readonly string[],
): Split {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    let list = byClass.get(c);
    if (!list) {
      list = [];
      byClass.set(c, list);
    }
    list.push(i);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const quotas = allocate(
    testCount(labels.length, testSize),
    classes.map((c) => byClass.get(c)!.length),
  );
  const rank = new Uint32Array(labels.length);
  for (let i = 0; i < labels.length; i++) rank[i] = rowHash(seed, keys?.[i] ?? String(i));
  const isTest = new Uint8Array(labels.length);
  classes.forEach((c, k) => {
    const members = byClass.get(c)!;
    members.sort((a, b) => rank[a]! - rank[b]! || a - b);
    for (let i = 0; i < quotas[k]!; i++) isTest[members[i]!] = 1;
  });
  return fromMask(isTest);
}

/** The latest rows by date form the test side (ties at the boundary go by source order). */
export function timeSplit(dates: readonly string[], testSize: number): Split {
  const order = Array.from(dates.keys()).sort((a, b) =>
    dates[a]! < dates[b]! ? -1 : dates[a]! > dates[b]! ? 1 : a - b,
  );
  const isTest = new Uint8Array(dates.length);
  const nTest = testCount(dates.length, testSize);
  for (let k = order.length - nTest; k < order.length; k++) isTest[order[k]!] = 1;
  return fromMask(isTest);
}

function fromMask(isTest: Uint8Array): Split {
  let nTest = 0;
  for (const m of isTest) nTest += m;
  const train = new Uint32Array(isTest.length - nTest);
  const test = new Uint32Array(nTest);
  let a = 0;
  let b = 0;
  for (let i = 0; i < isTest.length; i++) {
    if (isTest[i]) test[b++] = i;
    else train[a++] = i;
  }
  return { train, test };
}
