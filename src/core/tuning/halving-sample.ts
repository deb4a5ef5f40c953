import { seededRandom, shuffleInPlace } from '../dataset/random.js';

/**
 * The rows in a seeded order whose every prefix keeps the classes' shares (to within one row each): a rung with
 * budget b trains on the first b of them, so each rung's rows contain the previous rung's.
 */
export function nestedStratifiedOrder(y: ArrayLike<number>, rows: Uint32Array, seed: number): Uint32Array {
  const random = seededRandom(seed ^ 0x4a1f);
  const byClass: number[][] = [[], []];
  for (const row of rows) byClass[y[row] === 1 ? 1 : 0]!.push(row);
  for (const members of byClass) shuffleInPlace(members, random);
  // Interleave by each row's position within its class: the k-th of n sits at (k + 0.5) / n.
  const keyed = byClass.flatMap((members) => members.map((row, k) => ({ row, at: (k + 0.5) / members.length })));
  keyed.sort((a, b) => a.at - b.at || a.row - b.row);
  return Uint32Array.from(keyed, (k) => k.row);
}
