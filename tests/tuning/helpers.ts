import { seededRandom } from '../../src/core/dataset/random.js';
import type { Matrix } from '../../src/core/models/matrix.js';

/** A small learnable problem: 4 features, label 1 when the first two sum above 1 (with 10% of labels flipped). */
export function toyData(rows: number, seed: number): { X: Matrix; y: Float32Array } {
  const random = seededRandom(seed);
  const cols = 4;
  const data = Float32Array.from({ length: rows * cols }, () => random() * 2 - 0.5);
  const y = Float32Array.from({ length: rows }, (_, i) => {
    const label = data[i * cols]! + data[i * cols + 1]! > 1 ? 1 : 0;
    return random() < 0.1 ? 1 - label : label;
  });
  return { X: { rows, cols, data }, y };
}

/** Seeds that make crashing-fold-worker.ts die: exit quietly (code 0), exit with code 3, throw outside any task. */
export const QUIET_EXIT = 101;
export const EXIT_3 = 102;
export const UNCAUGHT = 103;
