import { expect, it } from 'vitest';
import { NotFoundError, UsageError } from '../../src/core/errors.js';
import type { Registry } from '../../src/registry/index.js';
import { fakeClock, open } from './helpers.js';
import { describeBackends } from './backends.js';
import type { Backend } from './backends.js';

/** Five trials under one parent, one second apart, plus a run in another experiment. */
async function seed(backend: Backend): Promise<{ registry: Registry; parent: string; ids: Record<string, string> }> {
  const clock = fakeClock();
  const registry = await open(await backend.fresh(), { now: clock.now });
  const parent = (await registry.startRun({ experiment: 'Rain Dataset', name: 'search' })).id;
  const ids: Record<string, string> = {};
  const trials: Array<[string, Record<string, string | number>, Record<string, number>]> = [
    ['t1', { max_depth: 3, booster: 'gbtree' }, { f1: 0.61 }],
    ['t2', { max_depth: 6, booster: 'gbtree' }, { f1: 0.69 }],
    ['t3', { max_depth: 9, booster: 'dart' }, { f1: 0.65 }],
    ['t4', { max_depth: 10, booster: 'gbtree' }, {}],
    ['t5', { max_depth: 'auto', booster: 'gbtree' }, { f1: 0.5 }],
  ];
  for (const [name, params, metrics] of trials) {
    clock.advance(1000);
    const id = (
      await registry.startRun({ experiment: 'Rain Dataset', name, parentRunId: parent, tags: { kind: 'trial' } })
    ).id;
    await registry.logParams(id, params);
    await registry.logMetrics(id, metrics);
    ids[name] = id;
  }
  // t4's f1 was high at step 0 but its latest value (step 1) is low
  await registry.logMetric(ids['t4'] as string, 'f1', 0.9, 0);
  await registry.logMetric(ids['t4'] as string, 'f1', 0.3, 1);
  await registry.finishRun(ids['t1'] as string, { status: 'FINISHED' });
  await registry.finishRun(ids['t2'] as string, { status: 'FINISHED' });
  await registry.finishRun(ids['t3'] as string, { status: 'FAILED', error: 'boom' });
  clock.advance(1000);
  ids['other'] = (await registry.startRun({ experiment: 'Other', name: 'other' })).id;
  return { registry, parent, ids };
}

function names(runs: Array<{ name: string }>): string[] {
  return runs.map((r) => r.name);
}

describeBackends('listRuns', (backend) => {
  it('lists newest first by default, with params, latest metrics and tags', async () => {
    const { registry, ids } = await seed(backend);
    const runs = await registry.listRuns();
    expect(names(runs)).toEqual(['other', 't5', 't4', 't3', 't2', 't1', 'search']);
    const t2 = runs.find((r) => r.id === ids['t2']);
    expect(t2).toMatchObject({
      params: { max_depth: '6', booster: 'gbtree' },
      metrics: { f1: 0.69 },
      tags: { kind: 'trial' },
    });
    expect(runs.find((r) => r.id === ids['t4'])?.metrics).toEqual({ f1: 0.3 });
  });

  it('narrows by experiment, parent, top level, status and limit', async () => {
    const { registry, parent } = await seed(backend);
    expect(names(await registry.listRuns({ experiment: 'Other' }))).toEqual(['other']);
    expect(names(await registry.listRuns({ parentRunId: parent.slice(0, 10) }))).toEqual([
      't5',
      't4',
      't3',
      't2',
      't1',
    ]);
    expect(names(await registry.listRuns({ topLevelOnly: true }))).toEqual(['other', 'search']);
    expect(names(await registry.listRuns({ status: 'FAILED' }))).toEqual(['t3']);
    expect(names(await registry.listRuns({ experiment: 'Rain Dataset', limit: 2 }))).toEqual(['t5', 't4']);
    await expect(registry.listRuns({ experiment: 'Nope' })).rejects.toThrow(NotFoundError);
    await expect(registry.listRuns({ experiment: 'Nope' })).rejects.toThrow(
      /experiment 'Nope' not found; known experiments: 'Other', 'Rain Dataset'/,
    );
    await expect(registry.listRuns({ parentRunId: parent, topLevelOnly: true })).rejects.toThrow(UsageError);
    await expect(registry.listRuns({ limit: 0 })).rejects.toThrow(UsageError);
  });

  it('filters on params numerically when both sides are numbers, else as text', async () => {
    const { registry } = await seed(backend);
    expect(names(await registry.listRuns({ filters: ['params.max_depth=6'] }))).toEqual(['t2']);
    expect(names(await registry.listRuns({ filters: ['params.max_depth = 6.0'] }))).toEqual(['t2']);
    expect(names(await registry.listRuns({ filters: ['params.max_depth>=9'] }))).toEqual(['t4', 't3']);
    expect(names(await registry.listRuns({ filters: ['params.max_depth<6'] }))).toEqual(['t1']);
    expect(names(await registry.listRuns({ filters: ['params.max_depth!=6'] }))).toEqual(['t5', 't4', 't3', 't1']);
    expect(names(await registry.listRuns({ filters: ['params.max_depth=auto'] }))).toEqual(['t5']);
    expect(names(await registry.listRuns({ filters: ['params.booster="dart"'] }))).toEqual(['t3']);
    expect(names(await registry.listRuns({ filters: ["params.booster!='dart'"] }))).toEqual(['t5', 't4', 't2', 't1']);
    expect(names(await registry.listRuns({ filters: ['tags.kind==trial', 'params.booster=dart'] }))).toEqual(['t3']);
  });

  it('filters on the latest value of a metric, and every filter must hold', async () => {
    const { registry } = await seed(backend);
    expect(names(await registry.listRuns({ filters: ['metrics.f1>0.6'] }))).toEqual(['t3', 't2', 't1']);
    expect(names(await registry.listRuns({ filters: ['metrics.f1>=0.65', 'params.booster=gbtree'] }))).toEqual(['t2']);
    expect(names(await registry.listRuns({ filters: ['metrics.f1<0.4'] }))).toEqual(['t4']);
    expect(names(await registry.listRuns({ filters: ['metrics.f1!=0.69'] }))).toEqual(['t5', 't4', 't3', 't1']);
  });

  it('sorts by a metric either way, runs without it last', async () => {
    const { registry, parent } = await seed(backend);
    expect(names(await registry.listRuns({ parentRunId: parent, sort: '-metrics.f1' }))).toEqual([
      't2',
      't3',
      't1',
      't5',
      't4',
    ]);
    expect(names(await registry.listRuns({ parentRunId: parent, sort: 'metrics.f1' }))).toEqual([
      't4',
      't5',
      't1',
      't3',
      't2',
    ]);
    expect(names(await registry.listRuns({ sort: '-metrics.f1', limit: 1 }))).toEqual(['t2']);
    // runs without the metric come after every run that has it
    expect(
      names(await registry.listRuns({ sort: 'metrics.f1' }))
        .slice(-2)
        .sort(),
    ).toEqual(['other', 'search']);
  });

  it('sorts params as numbers when they are numbers, and by start time', async () => {
    const { registry, parent } = await seed(backend);
    expect(names(await registry.listRuns({ parentRunId: parent, sort: 'params.max_depth' }))).toEqual([
      't1',
      't2',
      't3',
      't4',
      't5',
    ]);
    expect(names(await registry.listRuns({ parentRunId: parent, sort: '-params.max_depth' }))).toEqual([
      't4',
      't3',
      't2',
      't1',
      't5',
    ]);
    expect(names(await registry.listRuns({ sort: 'start_time' }))).toEqual([
      'search',
      't1',
      't2',
      't3',
      't4',
      't5',
      'other',
    ]);
    expect(names(await registry.listRuns({ sort: '-start_time', limit: 1 }))).toEqual(['other']);
  });

  it('explains the syntax when a filter or sort cannot be read', async () => {
    const { registry } = await seed(backend);
    for (const bad of ['max_depth=6', 'params.max_depth~6', 'params.max_depth=', 'metrics.f1>high', 'params.=3', '']) {
      await expect(registry.listRuns({ filters: [bad] }), bad).rejects.toThrow(UsageError);
    }
    await expect(registry.listRuns({ filters: ['max_depth=6'] })).rejects.toThrow(
      /cannot read the filter 'max_depth=6'; write filters as FIELD\.KEY OP VALUE.*'metrics\.test_f1>0\.6'/,
    );
    await expect(registry.listRuns({ filters: ['metrics.f1>high'] })).rejects.toThrow(/'high', which is not a number/);
    for (const bad of ['f1', 'metrics.', '--start_time', 'params.max depth']) {
      await expect(registry.listRuns({ sort: bad }), bad).rejects.toThrow(UsageError);
    }
    await expect(registry.listRuns({ sort: 'f1' })).rejects.toThrow(/cannot sort runs by 'f1'; sort by start_time/);
  });

  it('refuses a filter or sort on a key no run in scope has, naming the keys that exist', async () => {
    const { registry, parent } = await seed(backend);
    const filter =
      (f: string, o = {}) =>
      () =>
        registry.listRuns({ filters: [f], ...o });
    await expect(filter('params.depth=6')()).rejects.toThrow(UsageError);
    await expect(filter('params.depth=6')()).rejects.toThrow(
      /^no run in this list has params\.depth, so no run could match; known keys: params\.booster, params\.max_depth, metrics\.f1, tags\.kind$/,
    );
    // hyperparameters recorded as maxDepth by earlier versions and max_depth now: either spelling is known
    await filter('params.maxDepth=6')();
    await expect(filter('metrics.test_f1>0.5')()).rejects.toThrow(/no run in this list has metrics\.test_f1/);
    await expect(filter('tags.owner=me')()).rejects.toThrow(/no run in this list has tags\.owner/);
    // the keys are those of the runs in scope: trials are hidden from a top-level list
    await expect(filter('params.max_depth=6', { topLevelOnly: true })()).rejects.toThrow(
      /^no run in this list has params\.max_depth, so no run could match \(only trial runs have params\.max_depth; add --all to list them\); known keys: none$/,
    );
    await expect(filter('metrics.f1>0', { experiment: 'Other' })()).rejects.toThrow(
      /no run in this list has metrics\.f1, so no run could match; known keys: none$/,
    );
    // a status narrows the list but not what can be asked of it
    expect(names(await registry.listRuns({ status: 'FAILED', filters: ['metrics.f1>0.6'] }))).toEqual(['t3']);
    expect(names(await registry.listRuns({ status: 'RUNNING', filters: ['params.booster=dart'] }))).toEqual([]);

    const sort =
      (by: string, o = {}) =>
      () =>
        registry.listRuns({ sort: by, ...o });
    await expect(sort('params.depth')()).rejects.toThrow(UsageError);
    await expect(sort('-params.depth', { parentRunId: parent })()).rejects.toThrow(
      /^cannot sort runs by params\.depth: no run in this list has it; known keys: start_time, end_time, duration_ms, name, status, peak_rss_bytes, cpu_time_ms, params\.booster, params\.max_depth, metrics\.f1, tags\.kind$/,
    );
    expect(names(await registry.listRuns({ parentRunId: parent, sort: 'params.booster' }))[0]).toBe('t3');
  });

  it('lets any key through when no run is in scope, which lists nothing', async () => {
    const registry = await open(await backend.fresh(), { now: fakeClock().now });
    expect(await registry.listRuns({ filters: ['params.anything=1'], sort: 'metrics.whatever' })).toEqual([]);
  });
});
