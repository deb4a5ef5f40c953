import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, tempDir, WEATHER_CSV } from '../helpers/cli.js';
import { integrity, runningRuns, waitFor } from '../helpers/registry.js';
import { spawnCli } from '../helpers/spawn.js';

const MODEL = 'Rain_dataset_model_prod';

describe('kill -9 leaves a consistent registry and the next run succeeds', () => {
  it('during etl: no data set registered, the run FAILED, a second etl succeeds', async () => {
    const home = tempDir();
    const victim = spawnCli(['etl', '--source', WEATHER_CSV], home);
    await waitFor(async () => (await runningRuns(home, 'etl')) > 0, 30_000);
    await new Promise((r) => setTimeout(r, 400));
    victim.child.kill('SIGKILL');
    await victim.done;
    expect(integrity(home)).toBe('ok');
    expect(JSON.parse((await cli(['datasets', 'list', '--json'], {}, home)).stdout)).toEqual([]);
    const runs = JSON.parse((await cli(['runs', 'list', '--json'], {}, home)).stdout);
    expect(runs).toEqual([expect.objectContaining({ name: 'etl', status: 'FAILED' })]);
    const again = await cli(['etl', '--source', WEATHER_CSV, '--json'], {}, home);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).rows.train).toBe(113_754);
  });

  it('during optimize: no version registered, no alias, the search resumes and finishes', async () => {
    const home = tempDir();
    const grid = join(home, 'grid.json');
    writeFileSync(grid, JSON.stringify({ learningRate: [0.3], maxDepth: [2, 3, 4], nEstimators: [30] }));
    expect((await cli(['etl', '--source', WEATHER_CSV], {}, home)).code).toBe(0);
    const victim = spawnCli(['optimize', '--grid', grid, '--cv', '2', '--engine', 'wasm', '--jobs', '1'], home);
    await waitFor(async () => (await runningRuns(home, 'trial-')) > 0, 60_000);
    victim.child.kill('SIGKILL');
    await victim.done;
    expect(integrity(home)).toBe('ok');
    expect(JSON.parse((await cli(['models', 'list', '--json'], {}, home)).stdout)).toEqual([]);
    const all = JSON.parse((await cli(['runs', 'list', '--all', '--json'], {}, home)).stdout) as Array<{
      id: string;
      name: string;
      status: string;
    }>;
    expect(all.filter((r) => r.status === 'RUNNING')).toEqual([]);
    const killed = all.find((r) => r.name === 'optimize')!;
    expect(killed.status).toBe('FAILED');
    const resumed = await cli(['optimize', '--resume', killed.id, '--json'], {}, home);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ version: 1, alias: 'prod_best', cv: { trials: 3 } });
  });
});

describe('concurrent retrains', () => {
  it('promote at most once', async () => {
    const home = tempDir();
    const grid = join(home, 'grid.json');
    writeFileSync(grid, JSON.stringify({ learningRate: [0.3], maxDepth: [3], nEstimators: [20] }));
    await cli(['etl', '--source', WEATHER_CSV, '--until', '2014-12-31'], {}, home);
    expect((await cli(['optimize', '--grid', grid, '--cv', '2', '--engine', 'wasm'], {}, home)).code).toBe(0);
    await cli(['etl', '--source', WEATHER_CSV], {}, home);
    const a = spawnCli(['retrain', '--cv', '2', '--json', '--wait', '300'], home);
    const b = spawnCli(['retrain', '--cv', '2', '--json', '--wait', '300'], home);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect([ra.code, rb.code]).toEqual([0, 0]);
    const outs = [JSON.parse(ra.stdout), JSON.parse(rb.stdout)];
    expect(outs.filter((o) => o.promoted).length).toBeLessThanOrEqual(1);
    const history = JSON.parse((await cli(['models', 'show', MODEL, '--json'], {}, home)).stdout).alias_history.filter(
      (h: { alias: string }) => h.alias === 'prod_best',
    );
    expect(history.length).toBe(1 + outs.filter((o) => o.promoted).length);
    expect(integrity(home)).toBe('ok');
  });
});
