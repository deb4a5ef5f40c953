import { describe, expect, it } from 'vitest';
import { fakeClock, open, tempDbPath } from './helpers.js';

describe('runs recorded with camelCase hyperparameters (earlier versions) and snake_case ones', () => {
  function seed() {
    const clock = fakeClock();
    const registry = open(tempDbPath(), { now: clock.now });
    const add = (name: string, params: Record<string, number>) => {
      clock.advance(1000);
      registry.logParams(registry.startRun({ experiment: 'Rain Dataset', name }).id, params);
    };
    add('old-3', { maxDepth: 3, learningRate: 0.1 });
    add('new-6', { max_depth: 6, learning_rate: 0.05 });
    add('old-6', { maxDepth: 6, learningRate: 0.3 });
    add('none', {});
    return registry;
  }
  const names = (runs: Array<{ name: string }>) => runs.map((r) => r.name);

  it('filters by either spelling and finds both', () => {
    const registry = seed();
    expect(names(registry.listRuns({ filters: ['params.max_depth=6'] }))).toEqual(['old-6', 'new-6']);
    expect(names(registry.listRuns({ filters: ['params.maxDepth=6'] }))).toEqual(['old-6', 'new-6']);
    expect(names(registry.listRuns({ filters: ['params.learning_rate<0.2'] }))).toEqual(['new-6', 'old-3']);
  });

  it('sorts by either spelling, runs without the value last', () => {
    const registry = seed();
    expect(names(registry.listRuns({ sort: 'params.max_depth' }))).toEqual(['old-3', 'old-6', 'new-6', 'none']);
    expect(names(registry.listRuns({ sort: '-params.learning_rate' }))).toEqual(['old-6', 'old-3', 'new-6', 'none']);
  });
});
