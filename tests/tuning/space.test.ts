import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { parseXgbParams } from '../../src/core/models/params.js';
import {
  expandGrid,
  gridCandidates,
  loadGridFile,
  randomCandidates,
  SEED_GRID,
  SMALL_GRID,
} from '../../src/core/tuning/space.js';

const dir = mkdtempSync(join(tmpdir(), 'rainops-space-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('expandGrid', () => {
  it('lists every combination, the first key varying slowest', () => {
    expect(expandGrid({ maxDepth: [3, 6], learningRate: [0.1, 0.2, 0.3] })).toEqual([
      { maxDepth: 3, learningRate: 0.1 },
      { maxDepth: 3, learningRate: 0.2 },
      { maxDepth: 3, learningRate: 0.3 },
      { maxDepth: 6, learningRate: 0.1 },
      { maxDepth: 6, learningRate: 0.2 },
      { maxDepth: 6, learningRate: 0.3 },
    ]);
  });

  it('gives the 18 candidates of the original grid and the 4 of the small one', () => {
    expect(expandGrid(SEED_GRID)).toHaveLength(18);
    expect(expandGrid(SMALL_GRID)).toHaveLength(4);
  });

  it('refuses an empty value list, saying what to write', () => {
    expect(() => expandGrid({ maxDepth: [] })).toThrow(UsageError);
    expect(() => expandGrid({ maxDepth: [] })).toThrow(
      /maxDepth must list at least one value, e.g. "maxDepth": \[3, 6\]/,
    );
    expect(() => expandGrid({ maxDepth: 3 as unknown as number[] })).toThrow(/maxDepth must list at least one value/);
  });

  it('validates every candidate before any training, naming the bad value', () => {
    expect(() => expandGrid({ maxDepth: [3, 99] })).toThrow(UsageError);
    expect(() => expandGrid({ maxDepth: [3, 99] })).toThrow(/max_depth/);
    expect(() => expandGrid({ depth: [3] })).toThrow(UsageError);
  });
});

describe('grid files', () => {
  it('reads a grid of value lists (scikit-learn names too) or a list of candidates', async () => {
    expect(await loadGridFile(file('grid.json', '{"max_depth": [3, 4], "eta": [0.1]}'))).toEqual([
      { max_depth: 3, eta: 0.1 },
      { max_depth: 4, eta: 0.1 },
    ]);
    expect(await loadGridFile(file('list.json', '[{"maxDepth": 2}, {"maxDepth": 5, "nEstimators": 10}]'))).toEqual([
      { maxDepth: 2 },
      { maxDepth: 5, nEstimators: 10 },
    ]);
  });

  it.each([
    ['missing.json', null, /neither seed, small nor a readable JSON file/],
    ['bad.json', '{"maxDepth": [3,', /is not valid JSON/],
    ['empty.json', '[]', /lists no candidates/],
    ['number.json', '42', /must hold an object of value lists or an array of candidates/],
    ['invalid.json', '[{"maxDepth": 0}]', /max_depth/],
  ])('explains what is wrong with %s', async (name, text, message) => {
    const path = text === null ? join(dir, name) : file(name, text);
    await expect(loadGridFile(path)).rejects.toThrow(UsageError);
    await expect(loadGridFile(path)).rejects.toThrow(message);
  });

  it('knows the built-in grids by name', async () => {
    expect(await gridCandidates('seed')).toEqual(expandGrid(SEED_GRID));
    expect(await gridCandidates('small')).toEqual(expandGrid(SMALL_GRID));
  });
});

describe('randomCandidates', () => {
  it('draws the same candidates for the same seed and others for another seed', () => {
    expect(randomCandidates(20, 7)).toEqual(randomCandidates(20, 7));
    expect(randomCandidates(20, 8)).not.toEqual(randomCandidates(20, 7));
    // A longer search starts with the shorter one's candidates.
    expect(randomCandidates(30, 7).slice(0, 20)).toEqual(randomCandidates(20, 7));
  });

  it('stays inside the documented ranges, and every candidate is valid', () => {
    const candidates = randomCandidates(500, 1);
    expect(candidates).toHaveLength(500);
    const range = (key: string) => {
      const values = candidates.map((c) => (c as Record<string, number>)[key]!);
      return [Math.min(...values), Math.max(...values)];
    };
    const within = (key: string, lo: number, hi: number) => {
      const [min, max] = range(key);
      expect(min, key).toBeGreaterThanOrEqual(lo);
      expect(max, key).toBeLessThanOrEqual(hi);
    };
    within('learningRate', 0.02, 0.3);
    within('maxDepth', 3, 10);
    within('minChildWeight', 1, 20);
    within('subsample', 0.6, 1);
    within('colsampleBytree', 0.5, 1);
    within('lambda', 0.1, 10);
    expect(new Set(candidates.map((c) => c.maxDepth))).toEqual(new Set([3, 4, 5, 6, 7, 8, 9, 10]));
    expect(new Set(candidates.map((c) => c.nEstimators))).toEqual(new Set([1000]));
    for (const c of candidates) expect(() => parseXgbParams(c)).not.toThrow();
  });

  it('spreads the learning rate on a log scale (as many draws below 0.077 as above)', () => {
    const below = randomCandidates(2000, 3).filter((c) => c.learningRate! < Math.sqrt(0.02 * 0.3)).length;
    expect(below / 2000).toBeGreaterThan(0.45);
    expect(below / 2000).toBeLessThan(0.55);
  });
});
