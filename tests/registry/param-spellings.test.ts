import { expect, it } from 'vitest';
import { fakeClock, open } from './helpers.js';
import { describeBackends } from './backends.js';

describeBackends('runs recorded with camelCase hyperparameters (earlier versions) and snake_case ones', (backend) => {
  async function seed() {
    const clock = fakeClock();
    const registry = await open(await backend.fresh(), { now: clock.now });
    const add = async (name: string, params: Record<string, number>) => {
      clock.advance(1000);
      await registry.logParams((await registry.startRun({ experiment: 'Rain Dataset', name })).id, params);
    };
    await add('old-3', { maxDepth: 3, learningRate: 0.1 });
    await add('new-6', { max_depth: 6, learning_rate: 0.05 });
    await add('old-6', { maxDepth: 6, learningRate: 0.3 });
    await add('none', {});
    return registry;
  }
  const names = (runs: Array<{ name: string }>) => runs.map((r) => r.name);

  it('filters by either spelling and finds both', async () => {
    const registry = await seed();
    expect(names(await registry.listRuns({ filters: ['params.max_depth=6'] }))).toEqual(['old-6', 'new-6']);
    expect(names(await registry.listRuns({ filters: ['params.maxDepth=6'] }))).toEqual(['old-6', 'new-6']);
    expect(names(await registry.listRuns({ filters: ['params.learning_rate<0.2'] }))).toEqual(['new-6', 'old-3']);
  });

  it('sorts by either spelling, runs without the value last', async () => {
    const registry = await seed();
    expect(names(await registry.listRuns({ sort: 'params.max_depth' }))).toEqual(['old-3', 'old-6', 'new-6', 'none']);
    expect(names(await registry.listRuns({ sort: '-params.learning_rate' }))).toEqual([
      'old-6',
      'old-3',
      'new-6',
      'none',
    ]);
  });
});
