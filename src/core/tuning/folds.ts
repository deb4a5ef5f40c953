import { seededRandom, shuffleInPlace } from '../dataset/random.js';

/** The fold (0..k-1) of each row: stratified on the label, seeded, sizes differing by at most one per class. */
export function stratifiedFolds(y: ArrayLike<number>, k: number, seed: number): Uint8Array {
  const fold = new Uint8Array(y.length);
  const random = seededRandom(seed);
  let offset = 0;
  for (const label of [0, 1]) {
    const members: number[] = [];
    for (let i = 0; i < y.length; i++) if (y[i] === label) members.push(i);
    shuffleInPlace(members, random);
    // Continue the round-robin where the previous class stopped so fold sizes stay balanced overall.
    members.forEach((row, j) => {
      fold[row] = (j + offset) % k;
    });
    offset = (offset + members.length) % k;
  }
  return fold;
}

export function foldIndices(fold: Uint8Array, f: number): { train: Uint32Array; valid: Uint32Array } {
  let nValid = 0;
  for (const v of fold) if (v === f) nValid++;
  const train = new Uint32Array(fold.length - nValid);
  const valid = new Uint32Array(nValid);
  let a = 0;
  let b = 0;
  for (let i = 0; i < fold.length; i++) {
    if (fold[i] === f) valid[b++] = i;
    else train[a++] = i;
  }
  return { train, valid };
}
