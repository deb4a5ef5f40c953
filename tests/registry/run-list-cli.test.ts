import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { open, tempDir } from './helpers.js';

/** A home with one search run and one trial, keyed like optimize's runs. */
async function home(): Promise<string> {
  const cwd = tempDir();
  const registry = await open(join(cwd, '.rainops', 'registry.db'));
  const parent = (await registry.startRun({ experiment: 'Rain Dataset', name: 'optimize' })).id;
  await registry.logParams(parent, { search: 'grid', cv: 5 });
  await registry.logMetrics(parent, { test_f1: 0.69 });
  await registry.setTags(parent, { engine: 'wasm' });
  const trial = (await registry.startRun({ experiment: 'Rain Dataset', name: 'trial-0', parentRunId: parent })).id;
  await registry.logParams(trial, { max_depth: 4 });
  await registry.logMetrics(trial, { cv_score: 0.6 });
  await registry.close();
  return cwd;
}

describe('rainops runs list with a key no run has', () => {
  it('exits 2 naming the keys the listed runs have, instead of printing "no runs match"', async () => {
    const cwd = await home();
    const r = await cli(['runs', 'list', '--filter', 'params.depth=6'], {}, cwd);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'rainops: no run in this list has params.depth, so no run could match; known keys: params.cv, params.search, metrics.test_f1, tags.engine\n',
    );
    const sorted = await cli(['runs', 'list', '--sort', 'metrics.f1'], {}, cwd);
    expect(sorted.code).toBe(2);
    expect(sorted.stderr).toMatch(
      /^rainops: cannot sort runs by metrics\.f1: no run in this list has it; known keys: start_time, .*, metrics\.test_f1, tags\.engine\n$/,
    );
  });

  it('points at --all when only the hidden trials have the key, and finds it with --all', async () => {
    const cwd = await home();
    const hidden = await cli(['runs', 'list', '--filter', 'params.max_depth=4'], {}, cwd);
    expect(hidden.code).toBe(2);
    expect(hidden.stderr).toContain('(only trial runs have params.max_depth; add --all to list them)');
    const all = await cli(['runs', 'list', '--all', '--filter', 'params.max_depth=4', '--json'], {}, cwd);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout).map((r: { name: string }) => r.name)).toEqual(['trial-0']);
  });
});
