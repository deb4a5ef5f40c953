import { join } from 'node:path';
import { expect, it } from 'vitest';
import { copyRegistry } from '../../src/registry/index.js';
import type { CopyResult } from '../../src/registry/index.js';
import { cli } from '../helpers/cli.js';
import { describeBackends } from './backends.js';
import { SHA_A, SHA_B, open, seedRunAndDataset, tempDir } from './helpers.js';

interface Home {
  file: string;
  runId: string;
  trialId: string;
}

/** A SQLite home as a user's laptop holds it: a search with a trial, a data set, two versions and alias moves. */
async function sqliteHome(): Promise<Home> {
  const file = join(tempDir(), '.rainops', 'registry.db');
  const registry = await open(file);
  const { runId, datasetId } = await seedRunAndDataset(registry);
  await registry.logParams(runId, { search: 'grid', cv: 5 });
  await registry.logMetric(runId, 'cv_score', 0.61, 0);
  await registry.logMetric(runId, 'cv_score', 0.64, 1);
  await registry.logMetric(runId, 'cv_score', 0.64, 1);
  await registry.logMetric(runId, 'loss', Number.NaN, 0);
  await registry.setTags(runId, { engine: 'wasm' });
  await registry.logArtifact(runId, { path: 'model.json', size: 12, sha256: SHA_A, uri: 'file:///store/model.json' });
  await registry.linkRunDataset(runId, datasetId, 'input');
  const trial = await registry.startRun({ experiment: 'Rain Dataset', name: 'trial-0', parentRunId: runId });
  await registry.logParams(trial.id, { max_depth: 4 });
  await registry.finishRun(trial.id, { status: 'FINISHED' });
  for (const sha of [SHA_A, SHA_B]) {
    await registry.createModelVersion({
      model: 'rain',
      runId,
      datasetId,
      bundleUri: `file:///store/${sha.slice(0, 4)}`,
      bundleSha256: sha,
      engine: 'wasm',
      params: { max_depth: 4 },
      metrics: { test_f1: 0.6 },
    });
  }
  // a study whose one trial ran (score 0.5) and whose other is still open
  await registry.openStudy({
    name: 'nightly',
    settings: { search: 'random' },
    payloads: ['{"a":1}', '{"a":2}'],
    runId,
  });
  await registry.claimTrial('nightly', runId);
  await registry.settleTrial('nightly', 0, runId, { state: 'DONE', runId: trial.id, score: 0.5 });
  await registry.finishRun(runId, { status: 'FINISHED' });
  await registry.setAlias({ model: 'rain', alias: 'prod_best', version: 1, actor: 'ann', reason: 'first' });
  await registry.setAlias({ model: 'rain', alias: 'prod_best', version: 2, actor: 'ann', reason: 'better' });
  await registry.setAlias({ model: 'rain', alias: 'challenger', version: 1, actor: 'bob', reason: 'try' });
  await registry.deleteAlias({ model: 'rain', alias: 'challenger', actor: 'bob', reason: 'done' });
  await registry.close();
  return { file, runId, trialId: trial.id };
}

const EXPECTED: Record<string, number> = {
  experiments: 1,
  runs: 2,
  params: 3,
  metrics: 4,
  tags: 1,
  artifacts: 1,
  datasets: 1,
  run_datasets: 1,
  models: 1,
  versions: 2,
  aliases: 1,
  alias_history: 4,
  studies: 1,
  study_trials: 2,
};

function byKind(result: CopyResult, field: 'source' | 'target' | 'copied' | 'missing'): Record<string, number> {
  return Object.fromEntries(result.counts.map((c) => [c.kind, c[field]]));
}

describeBackends('registry copy from a SQLite home', (backend) => {
  it('copies everything with equal counts on both sides, and a second copy adds nothing', async () => {
    const home = await sqliteHome();
    const target = await backend.fresh();
    const first = await copyRegistry(home.file, target);
    expect(first.verified).toBe(true);
    expect(byKind(first, 'source')).toEqual(EXPECTED);
    expect(byKind(first, 'target')).toEqual(EXPECTED);
    expect(byKind(first, 'copied')).toEqual(EXPECTED);
    expect(first.copied).toBe(25);

    const second = await copyRegistry(home.file, target);
    expect(second.verified).toBe(true);
    expect(second.copied).toBe(0);
    expect(byKind(second, 'target')).toEqual(EXPECTED);

    // and back: the copy reads from either database
    const back = await copyRegistry(target, join(tempDir(), 'back.db'));
    expect(back.verified).toBe(true);
    expect(byKind(back, 'target')).toEqual(EXPECTED);

    const copy = await open(target);
    const run = await copy.getRun(home.runId);
    expect(run).toMatchObject({ status: 'FINISHED', experiment: 'Rain Dataset', params: { search: 'grid', cv: '5' } });
    expect((await copy.getRun(home.trialId)).parentRunId).toBe(home.runId);
    expect(await copy.getAlias('rain', 'prod_best')).toBe(2);
    expect(await copy.getAlias('rain', 'challenger')).toBeNull();
    expect(await copy.getStudy('nightly')).toMatchObject({ settings: { search: 'random' }, trials: 2, state: 'OPEN' });
    expect((await copy.listStudyTrials('nightly')).map((t) => [t.state, t.score, t.runId])).toEqual([
      ['DONE', 0.5, home.trialId],
      ['PENDING', null, null],
    ]);
    const history = await copy.aliasHistory('rain');
    expect(history.map((h) => [h.alias, h.fromVersion, h.toVersion, h.actor])).toEqual(
      expect.arrayContaining([
        ['prod_best', null, 1, 'ann'],
        ['prod_best', 1, 2, 'ann'],
        ['challenger', null, 1, 'bob'],
        ['challenger', 1, null, 'bob'],
      ]),
    );
    expect((await copy.listModelVersions('rain')).map((v) => v.bundleSha256)).toEqual(
      expect.arrayContaining([SHA_A, SHA_B]),
    );
    // the new version after a copy follows the copied ones
    expect(
      (await copy.createModelVersion({ ...(await copy.getModelVersion('rain', 2)), status: 'READY' })).version,
    ).toBe(3);
  });

  it('merges into a registry that already holds other runs, mapping experiments by name', async () => {
    const home = await sqliteHome();
    const target = await backend.fresh();
    const existing = await open(target);
    await existing.getOrCreateExperiment('Other');
    const own = await existing.startRun({ experiment: 'Rain Dataset', name: 'theirs' });
    await existing.finishRun(own.id, { status: 'FINISHED' });
    await existing.close();

    const result = await copyRegistry(home.file, target);
    expect(result.verified).toBe(true);
    expect(byKind(result, 'copied')).toMatchObject({ experiments: 0, runs: 2 });
    expect(byKind(result, 'target')).toMatchObject({ experiments: 2, runs: 3 });
    const merged = await open(target);
    const run = await merged.getRun(home.runId);
    const experiments = await merged.listExperiments();
    expect(experiments.find((e) => e.name === 'Rain Dataset')).toMatchObject({ id: run.experimentId, runCount: 3 });
  });

  it('refuses to overwrite a run the target holds with other content, naming it, and writes nothing', async () => {
    const home = await sqliteHome();
    const target = await backend.fresh();
    await copyRegistry(home.file, target);
    await backend.exec(target, 'UPDATE runs SET name = ? WHERE id = ?', ['renamed', home.runId]);
    await backend.exec(target, 'DELETE FROM tags');
    const err = await copyRegistry(home.file, target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      new RegExp(`already holds different data under the same ids: run ${home.runId} \\(name differ\\)`),
    );
    const rows = await backend.exec(target, 'SELECT count(*) AS n FROM tags');
    expect(Number(rows[0]!.n)).toBe(0);
    const viaCli = await cli(['registry', 'copy', '--from', home.file, '--to', target]);
    expect(viaCli.code).toBe(1);
    expect(viaCli.stdout).toBe('');
    expect(viaCli.stderr).toContain(`run ${home.runId} (name differ); nothing was copied`);
  });

  it('rainops registry copy prints the counts (text and --json) and never the password', async () => {
    const home = await sqliteHome();
    const target = await backend.fresh();
    const cwd = tempDir();
    const text = await cli(['registry', 'copy', '--from', `sqlite://${home.file}`, '--to', target], {}, cwd);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^runs\s+2\s+2\s+2\s+0$/m);
    expect(text.stdout).toMatch(/^versions\s+2\s+2\s+2\s+0$/m);
    expect(text.stdout).toMatch(/^alias_history\s+4\s+4\s+4\s+0$/m);
    expect(text.stdout).toMatch(/copied 25 rows from sqlite .* to /);
    expect(text.stdout).toContain('verified: the target holds every row of the source');
    const json = await cli(['registry', 'copy', '--from', home.file, '--to', target, '--json'], {}, cwd);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as {
      copied: number;
      verified: boolean;
      counts: Array<Record<string, unknown>>;
    };
    expect(parsed.copied).toBe(0);
    expect(parsed.verified).toBe(true);
    expect(parsed.counts.find((c) => c.kind === 'alias_history')).toEqual({
      kind: 'alias_history',
      source: 4,
      target: 4,
      copied: 0,
      missing: 0,
    });
    if (backend.name === 'postgresql') {
      const password = new URL(target).password;
      expect(password).not.toBe('');
      for (const out of [text.stdout, text.stderr, json.stdout, json.stderr]) {
        expect(out).not.toContain(`:${password}@`);
      }
      expect(text.stdout).toContain(':***@');
    }
  });

  it('exits 2 without --to, and 1 naming the path when the source does not exist', async () => {
    const cwd = tempDir();
    const target = await backend.fresh();
    const noTo = await cli(['registry', 'copy', '--from', join(cwd, 'x.db')], {}, cwd);
    expect(noTo.code).toBe(2);
    expect(noTo.stderr).toContain('--to');
    const missing = await cli(['registry', 'copy', '--from', join(cwd, 'nowhere.db'), '--to', target], {}, cwd);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`there is no registry at ${join(cwd, 'nowhere.db')} to copy from`);
  });
});
