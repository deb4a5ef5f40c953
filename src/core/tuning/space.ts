import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { seededRandom } from '../dataset/random.js';
import { parseXgbParams } from '../models/params.js';
import type { XgbParamsInput } from '../models/params.js';

export type Grid = Record<string, readonly unknown[]>;

/** The Python original's grid (18 candidates). */
export const SEED_GRID: Grid = { learning_rate: [0.1, 0.01], max_depth: [3, 6, 9], n_estimators: [100, 500, 1000] };

/** A fast grid that reaches the target scores with trees shallow enough to serve quickly (depth 8 scored the same
 * out of fold here but serves at half the rate); early stopping makes n_estimators an upper bound. */
export const SMALL_GRID: Grid = { learning_rate: [0.05, 0.1], max_depth: [5, 6], n_estimators: [1000] };

/** Every combination of the grid's values, in a stable order (first key varies slowest). */
export function expandGrid(grid: Grid): XgbParamsInput[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    if (!Array.isArray(values) || values.length === 0)
      throw new UsageError(`grid: ${key} must list at least one value, e.g. "${key}": [3, 6]`);
    out = out.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  }
  // Validates every candidate now, so a bad grid fails before any training starts.
  for (const c of out) parseXgbParams(c);
  return out as XgbParamsInput[];
}

/** A grid file: `{"max_depth": [3, 6], ...}` (every combination) or `[{...}, {...}]` (these candidates). */
export async function loadGridFile(path: string): Promise<XgbParamsInput[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UsageError(`optimize: --grid ${path} is neither seed, small nor a readable JSON file`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`optimize: ${path} is not valid JSON (${(err as Error).message})`);
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) throw new UsageError(`optimize: ${path} lists no candidates`);
    for (const c of parsed) parseXgbParams(c);
    return parsed as XgbParamsInput[];
  }
  if (typeof parsed === 'object' && parsed !== null) return expandGrid(parsed as Grid);
  throw new UsageError(`optimize: ${path} must hold an object of value lists or an array of candidates`);
}

export async function gridCandidates(grid: string): Promise<XgbParamsInput[]> {
  if (grid === 'seed') return expandGrid(SEED_GRID);
  if (grid === 'small') return expandGrid(SMALL_GRID);
  return loadGridFile(grid);
}

/** Random search: draws from ranges known to suit gradient-boosted trees on tabular data. */
export function randomCandidates(n: number, seed: number): XgbParamsInput[] {
  const random = seededRandom(seed ^ 0x5eed);
  const logUniform = (lo: number, hi: number) => Math.exp(Math.log(lo) + random() * (Math.log(hi) - Math.log(lo)));
  const round = (x: number, digits: number) => Number(x.toPrecision(digits));
  return Array.from({ length: n }, () => ({
    learningRate: round(logUniform(0.02, 0.3), 3),
    maxDepth: 3 + Math.floor(random() * 8),
    nEstimators: 1000,
    minChildWeight: round(logUniform(1, 20), 3),
    subsample: round(0.6 + 0.4 * random(), 3),
    colsampleBytree: round(0.5 + 0.5 * random(), 3),
    lambda: round(logUniform(0.1, 10), 3),
  }));
}
