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
  return avalanche(fnv((0x811c9dc5 ^ seed) >>> 0, key));
}

function fnv(state: number, text: string): number {
  let h = state;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function avalanche(state: number): number {
  let h = state;
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

/**
 * stratifiedSplit for 0/1 labels with each row's rank given (see dateLocationRanks): the same split, in typed
 * arrays only (a few bytes a row instead of a key string and a boxed index).
 */
export function stratifiedSplitRanked(labels: Uint8Array, testSize: number, rank: Uint32Array): Split {
  const classes = [0, 1].filter((c) => labels.includes(c));
  const members = classes.map((c) => {
    let n = 0;
    for (let i = 0; i < labels.length; i++) if (labels[i] === c) n++;
    const out = new Uint32Array(n);
    n = 0;
    for (let i = 0; i < labels.length; i++) if (labels[i] === c) out[n++] = i;
    return out;
  });
  if (classes.length === 0 && labels.length > 0) throw new RangeError('stratifiedSplitRanked takes 0/1 labels');
  const quotas = allocate(
    testCount(labels.length, testSize),
    members.map((m) => m.length),
  );
  const isTest = new Uint8Array(labels.length);
  members.forEach((m, k) => {
    const ordered = sortByRank(m, rank);
    for (let i = 0; i < quotas[k]!; i++) isTest[ordered[i]!] = 1;
  });
  return fromMask(isTest);
}

/** Row indices (ascending) ordered by rank, ties by index: a stable radix sort on the 32-bit ranks. */
function sortByRank(indices: Uint32Array, rank: Uint32Array): Uint32Array {
  let idx: Uint32Array = indices;
  let keys: Uint32Array = Uint32Array.from(indices, (i) => rank[i]!);
  let idxOut: Uint32Array = new Uint32Array(idx.length);
  let keysOut: Uint32Array = new Uint32Array(idx.length);
  for (const shift of [0, 16]) {
    const counts = new Uint32Array(1 << 16);
    for (let i = 0; i < keys.length; i++) counts[(keys[i]! >>> shift) & 0xffff]!++;
    let sum = 0;
    for (let b = 0; b < counts.length; b++) {
      const c = counts[b]!;
      counts[b] = sum;
      sum += c;
    }
    for (let i = 0; i < keys.length; i++) {
      const at = counts[(keys[i]! >>> shift) & 0xffff]!++;
      keysOut[at] = keys[i]!;
      idxOut[at] = idx[i]!;
    }
    [idx, idxOut] = [idxOut, idx];
    [keys, keysOut] = [keysOut, keys];
  }
  return idx;
}

/**
 * The ranks stratifiedSplit gives rows keyed `${Date}|${Location}`, from day numbers and location names
 * without building the strings: the hash of a day's prefix is computed once per day.
 */
export function dateLocationRanks(
  seed: number,
  days: Int32Array,
  locations: Uint8Array,
  dayText: (day: number) => string,
  locationName: (code: number) => string,
): Uint32Array {
  const prefix = new Map<number, number>();
  const names = Array.from({ length: 256 }, (_, c) => (c < 255 ? locationName(c) : ''));
  const rank = new Uint32Array(days.length);
  for (let i = 0; i < days.length; i++) {
    let h = prefix.get(days[i]!);
    if (h === undefined) {
      h = fnv((0x811c9dc5 ^ seed) >>> 0, `${dayText(days[i]!)}|`);
      prefix.set(days[i]!, h);
    }
    rank[i] = avalanche(fnv(h, names[locations[i]!]!));
  }
  return rank;
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

/** timeSplit on day numbers: a stable counting sort by day instead of comparing strings. */
export function timeSplitDays(days: Int32Array, testSize: number): Split {
  const isTest = new Uint8Array(days.length);
  const nTest = testCount(days.length, testSize);
  if (days.length === 0) return fromMask(isTest);
  let lo = days[0]!;
  let hi = days[0]!;
  for (const d of days) {
    if (d < lo) lo = d;
    if (d > hi) hi = d;
  }
  // The test side is the last nTest rows in (day, position) order: walk the days down from the latest.
  const counts = new Uint32Array(hi - lo + 2);
  for (const d of days) counts[d - lo + 1]!++;
  for (let b = 1; b < counts.length; b++) counts[b]! += counts[b - 1]!;
  const order = new Uint32Array(days.length);
  for (let i = 0; i < days.length; i++) order[counts[days[i]! - lo]!++] = i;
  for (let k = order.length - nTest; k < order.length; k++) isTest[order[k]!] = 1;
  return fromMask(isTest);
}
