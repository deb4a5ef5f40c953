import { describe, expect, it, vi } from 'vitest';
import { moveAlias } from '../../src/core/aliases.js';
import type { CoreDeps } from '../../src/core/context.js';
import { silentLogger } from '../../src/core/context.js';
import type { DatasetMatrices } from '../../src/core/dataset/load.js';
import { RainopsError } from '../../src/core/errors.js';
import type { TrainedModel, XgbEngine } from '../../src/core/models/engine.js';
import { parseXgbParams } from '../../src/core/models/params.js';
import { settleChallenger } from '../../src/core/retrain.js';
import { createMemoryStore } from '../../src/core/store/memory-store.js';
import { foldJobs, refit, withModelRun } from '../../src/core/training/flow.js';
import type { Registry } from '../../src/registry/index.js';
import { open, SHA_A, seedRunAndDataset, tempDbPath } from '../registry/helpers.js';
import { ONE_LEAF } from '../helpers/trees.js';

const M = 'M';

/** A registry holding versions 1 (the champion, prod_best) and 2 (the challenger) of M, each from its own run. */
async function twoVersions(): Promise<{ registry: Registry; challengerRun: string }> {
  const registry = await open(tempDbPath());
  const { runId, datasetId } = await seedRunAndDataset(registry);
  const challengerRun = (await registry.startRun({ experiment: 'Rain Dataset', name: 'retrain' })).id;
  const version = { model: M, datasetId, bundleUri: 'memory:///models/M', bundleSha256: SHA_A, engine: 'wasm' };
  await registry.createModelVersion({ ...version, runId, params: {}, metrics: {} });
  await registry.createModelVersion({ ...version, runId: challengerRun, params: {}, metrics: {} });
  await registry.setAlias({ model: M, alias: 'prod_best', version: 1, expected: null, actor: 'test', reason: 'first' });
  return { registry, challengerRun };
}

const round = { model: M, champion: 1, challenger: 2, minDelta: 0, actor: 'retrain run r' };

describe('the champion/challenger policy', () => {
  it('promotes a challenger whose F1 is strictly above the champion, recording who and why', async () => {
    const { registry } = await twoVersions();
    const verdict = await settleChallenger(registry, { ...round, championF1: 0.6, challengerF1: 0.61 });
    expect(verdict).toEqual({
      winner: 'challenger',
      promoted: true,
      message: 'challenger v2 wins (F1 0.6100 vs 0.6000); prod_best -> v2',
    });
    expect(await registry.getAlias(M, 'prod_best')).toBe(2);
    expect((await registry.aliasHistory(M, 'prod_best')).at(-1)).toMatchObject({
      fromVersion: 1,
      toVersion: 2,
      actor: 'retrain run r',
      reason: "challenger F1 0.6100 beats champion v1's 0.6000",
    });
  });

  it('keeps the champion on a tie, and when the challenger is not above it by min-delta', async () => {
    const { registry } = await twoVersions();
    expect(await settleChallenger(registry, { ...round, championF1: 0.6, challengerF1: 0.6 })).toEqual({
      winner: 'champion',
      promoted: false,
      message: 'champion v1 stays (challenger v2 F1 0.6000 is not above 0.6000)',
    });
    expect(await settleChallenger(registry, { ...round, minDelta: 0.02, championF1: 0.6, challengerF1: 0.61 })).toEqual(
      {
        winner: 'champion',
        promoted: false,
        message: 'champion v1 stays (challenger v2 F1 0.6100 is not above 0.6000 + 0.02)',
      },
    );
    expect(await registry.getAlias(M, 'prod_best')).toBe(1);
    expect(await registry.aliasHistory(M, 'prod_best')).toHaveLength(1);
  });

  it("never promotes a failed run's version, however much better it scores", async () => {
    const { registry, challengerRun } = await twoVersions();
    await registry.finishRun(challengerRun, { status: 'FAILED', error: 'killed after registering' });
    const verdict = await settleChallenger(registry, { ...round, championF1: 0.5, challengerF1: 0.9 });
    expect(verdict).toEqual({
      winner: 'challenger',
      promoted: false,
      message: `challenger v2 won (F1 0.9000 vs 0.5000) but v2's run ${challengerRun} FAILED, and a version of a failed run is never promoted implicitly; check it, then promote it by hand with 'rainops promote M 2' if it is sound`,
    });
    expect(await registry.getAlias(M, 'prod_best')).toBe(1);
  });

  it('leaves the alias where another process moved it since the round began', async () => {
    const { registry } = await twoVersions();
    const { runId, datasetId } = await seedRunAndDataset(registry, 'ds-2');
    const v3 = { model: M, runId, datasetId, bundleUri: 'memory:///models/M/3', bundleSha256: SHA_A, engine: 'wasm' };
    await registry.createModelVersion({ ...v3, params: {}, metrics: {} });
    await registry.setAlias({
      model: M,
      alias: 'prod_best',
      version: 3,
      expected: 1,
      actor: 'other',
      reason: 'theirs',
    });
    const verdict = await settleChallenger(registry, { ...round, championF1: 0.5, challengerF1: 0.9 });
    expect(verdict.promoted).toBe(false);
    expect(verdict.message).toMatch(/^challenger v2 won \(F1 0\.9000 vs 0\.5000\) but .*nothing was promoted/);
    expect(await registry.getAlias(M, 'prod_best')).toBe(3);
  });
});

describe('moveAlias', () => {
  it('moves only a READY version, and only from the version the mover saw', async () => {
    const { registry } = await twoVersions();
    const { runId, datasetId } = await seedRunAndDataset(registry, 'ds-2');
    await registry.createModelVersion({
      model: M,
      runId,
      datasetId,
      bundleUri: 'memory:///models/M/3',
      bundleSha256: SHA_A,
      engine: 'wasm',
      params: {},
      metrics: {},
      status: 'PENDING',
    });
    const move = { model: M, alias: 'prod_best', actor: 't', reason: 'r' };
    await expect(moveAlias(registry, { ...move, version: 3, expected: 1 })).rejects.toThrow(
      'M v3 is PENDING, not READY; only a complete version can take an alias',
    );
    await expect(moveAlias(registry, { ...move, version: 2, expected: null })).rejects.toThrow(RainopsError);
    expect(await registry.getAlias(M, 'prod_best')).toBe(1);
    expect(await moveAlias(registry, { ...move, version: 2, expected: 1 })).toMatchObject({
      fromVersion: 1,
      toVersion: 2,
      changed: true,
    });
  });
});

/** An engine that records what it was asked to train and whether the model was freed. */
function recordingEngine(name: 'wasm' | 'native', fail?: 'toTrees') {
  const trained: unknown[] = [];
  const free = vi.fn();
  const model = {
    engine: name,
    bestIteration: 0,
    nTrees: 1,
    roundsTrained: 1,
    format: name === 'native' ? 'xgboost-json' : 'xgboost-binary',
    predict: () => new Float32Array(),
    toTrees: () => {
      if (fail === 'toTrees') throw new Error('bad trees');
      return ONE_LEAF;
    },
    save: () => Uint8Array.of(1, 2, 3),
    free,
  } satisfies TrainedModel;
  const engine: XgbEngine = {
    name,
    libraryVersion: '9.9.9',
    train: async (_X, _y, params) => {
      trained.push(params);
      return model;
    },
    load: async () => model,
  };
  return { engine, trained, free };
}

const data = {} as DatasetMatrices;

describe('refit', () => {
  it('trains and records the recipe without a thread count, names the file by format, and frees the model', async () => {
    const { engine, trained, free } = recordingEngine('native');
    const fit = await refit(engine, data, parseXgbParams({ max_depth: 3, n_estimators: 7, n_jobs: 2 }), 0.42);
    expect(trained).toHaveLength(1);
    expect(trained[0]).not.toHaveProperty('nthread');
    expect(trained[0]).toMatchObject({ maxDepth: 3, nEstimators: 7 });
    expect(fit.params).not.toHaveProperty('nthread');
    expect(fit.params).toMatchObject({ max_depth: 3, n_estimators: 7 });
    expect(fit.threshold).toBe(0.42);
    expect(fit.engineModel).toEqual({ file: 'xgboost_model.json', bytes: Uint8Array.of(1, 2, 3) });
    expect(fit.libraries).toEqual({ xgboost: '9.9.9', engine: 'native' });
    expect(free).toHaveBeenCalledTimes(1);
    const wasm = await refit(recordingEngine('wasm').engine, data, parseXgbParams({}), 0.5);
    expect(wasm.engineModel?.file).toBe('xgboost_model.bin');
  });

  it('frees the model when taking its trees fails', async () => {
    const { engine, free } = recordingEngine('wasm', 'toTrees');
    await expect(refit(engine, data, parseXgbParams({}), 0.5)).rejects.toThrow('bad trees');
    expect(free).toHaveBeenCalledTimes(1);
  });
});

describe('foldJobs', () => {
  it('is one fit at a time for the native engine, and what --jobs says when given', () => {
    expect(foldJobs(recordingEngine('native').engine, undefined)).toBe(1);
    expect(foldJobs(recordingEngine('wasm').engine, 3)).toBe(3);
    expect(foldJobs(recordingEngine('wasm').engine, undefined)).toBeGreaterThanOrEqual(1);
  });
});

describe('withModelRun', () => {
  it('runs the body as a run reading the data set, marks it FAILED when it throws, and releases the lock', async () => {
    const registry = await open(tempDbPath());
    await seedRunAndDataset(registry);
    const dataset = await registry.getDataset('ds-1');
    const deps: CoreDeps = { registry, store: createMemoryStore(), logger: silentLogger, home: '' };
    const args = { model: M, waitSec: 0, dataset, name: 'retrain' };
    let failedRun = '';
    await expect(
      withModelRun(deps, args, async (run) => {
        failedRun = run.id;
        expect((await registry.listLocks()).map((l) => l.name)).toEqual([`model:${M}`]);
        throw new Error('training broke');
      }),
    ).rejects.toThrow('training broke');
    expect(await registry.getRun(failedRun)).toMatchObject({ status: 'FAILED', error: 'training broke' });
    expect((await registry.getRun(failedRun)).datasets.map((d) => [d.id, d.role])).toEqual([['ds-1', 'input']]);
    // Released: a second run takes the lock at once, without waiting.
    expect(await withModelRun(deps, args, async (run) => (await registry.getRun(run.id)).status)).toBe('RUNNING');
    expect(await registry.listLocks()).toEqual([]);
  });
});
