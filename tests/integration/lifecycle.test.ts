import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../../src/registry/index.js';
import { cli, tempDir, WEATHER_CSV } from '../helpers/cli.js';
import { integrity, runningRuns, waitFor } from '../helpers/registry.js';
import { spawnCli } from '../helpers/spawn.js';

const MODEL = 'Rain_dataset_model_prod';

const versions = async (home: string) => {
  const r = await openRegistry(join(home, '.rainops/registry.db'));
  try {
    return (await r.listModelVersions(MODEL)).map((v) => v.version);
  } finally {
    await r.close();
  }
};

describe('champion / challenger through the CLI', () => {
  const home = tempDir();
  const grid = join(home, 'grid.json');
  let early: string;
  let full: string;

  beforeAll(async () => {
    writeFileSync(grid, JSON.stringify({ learningRate: [0.3], maxDepth: [4], nEstimators: [40] }));
    early = JSON.parse(
      (await cli(['etl', '--source', WEATHER_CSV, '--until', '2015-06-30', '--json'], {}, home)).stdout,
    ).dataset_id;
    const opt = await cli(['optimize', '--grid', grid, '--cv', '2', '--engine', 'wasm', '--json'], {}, home);
    expect(opt.code).toBe(0);
    expect(JSON.parse(opt.stdout)).toMatchObject({ version: 1, alias: 'prod_best', dataset_id: early });
  }, 180_000);

  it('retrain without a newer data set says so and exits 0 without training', async () => {
    const r = await cli(['retrain', '--json'], {}, home);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ trained: false, run_id: null, winner: null });
    expect(out.message).toBe(
      `no newer data set than the champion's ${early}; nothing to retrain (use --force to retrain anyway)`,
    );
    expect(await versions(home)).toEqual([1]);
  });

  it('retrain on a newer data set trains a challenger and decides on the same test rows', async () => {
    full = JSON.parse((await cli(['etl', '--source', WEATHER_CSV, '--json'], {}, home)).stdout).dataset_id;
    const r = await cli(['retrain', '--cv', '2', '--json'], {}, home);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      trained: true,
      dataset_id: full,
      champion: { version: 1, dataset_id: early },
      challenger: { version: 2 },
    });
    expect(out.test_f1_champion).toBeGreaterThan(0.5);
    expect(out.test_f1_challenger).toBeGreaterThan(0.5);
    expect(out.winner).toBe(out.test_f1_challenger > out.test_f1_champion ? 'challenger' : 'champion');
    expect(out.promoted).toBe(out.winner === 'challenger');
    // Rows the champion trained on are left out of the comparison: only a handful, thanks to the keyed split.
    expect(out.comparison_rows).toBeGreaterThan(28_000);
    expect(out.comparison_rows).toBeLessThanOrEqual(28_439);
    const run = JSON.parse((await cli(['runs', 'show', out.run_id, '--json'], {}, home)).stdout);
    expect(run.metrics.test_f1_champion).toBeCloseTo(out.test_f1_champion, 12);
    expect(run.metrics.test_f1_challenger).toBeCloseTo(out.test_f1_challenger, 12);
    expect(run.tags.winner).toBe(out.winner);
    const models = JSON.parse((await cli(['models', 'list', '--json'], {}, home)).stdout);
    expect(models[0].aliases).toMatchObject({ challenger: 2, prod_best: out.promoted ? 2 : 1 });
  }, 120_000);

  it('promote and rollback move the alias and record every move', async () => {
    const before = JSON.parse((await cli(['models', 'list', '--json'], {}, home)).stdout)[0].aliases
      .prod_best as number;
    const target = before === 1 ? 2 : 1;
    const p = await cli(['promote', MODEL, String(target), '--reason', 'by hand', '--json'], {}, home);
    expect(JSON.parse(p.stdout)).toMatchObject({ from_version: before, to_version: target, changed: true });
    const back = await cli(['rollback', MODEL, '--json'], {}, home);
    expect(JSON.parse(back.stdout)).toMatchObject({ from_version: target, to_version: before });
    const history = JSON.parse((await cli(['models', 'show', MODEL, '--json'], {}, home)).stdout).alias_history.filter(
      (h: { alias: string }) => h.alias === 'prod_best',
    );
    expect(history.at(-2)).toMatchObject({ from_version: before, to_version: target, reason: 'by hand' });
    expect(history.at(-1)).toMatchObject({
      from_version: target,
      to_version: before,
      reason: `rollback from v${target}`,
    });
    const missing = await cli(['promote', MODEL, '99'], {}, home);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('has no version 99');
    expect((await cli(['promote', MODEL, 'two'], {}, home)).code).toBe(2);
  });

  it('two concurrent retrains never interleave: the second names the holder, or waits its turn', async () => {
    const before = (await versions(home)).length;
    const a = spawnCli(['retrain', '--force', '--cv', '2', '--json'], home);
    // Its run starts once it holds the model's lock.
    await waitFor(async () => (await runningRuns(home, 'retrain')) > 0, 60_000);
    const b = spawnCli(['retrain', '--force', '--cv', '2'], home);
    const rb = await b.done;
    expect(rb.code).toBe(1);
    expect(rb.stderr).toMatch(/model:Rain_dataset_model_prod/);
    expect(rb.stderr).not.toMatch(/\n\s+at /);
    const ra = await a.done;
    expect(ra.code).toBe(0);
    const c = spawnCli(['retrain', '--force', '--cv', '2', '--json', '--wait', '300'], home);
    const d = spawnCli(['retrain', '--force', '--cv', '2', '--json', '--wait', '300'], home);
    const [rc, rd] = await Promise.all([c.done, d.done]);
    expect([rc.code, rd.code]).toEqual([0, 0]);
    // c and d train the champion's recipe on the data set a used, so each challenger is a's challenger again
    // (training is seeded): either a promoted it and it now ties with itself, or it loses as it lost to a's champion.
    const [oa, oc, od] = [JSON.parse(ra.stdout), JSON.parse(rc.stdout), JSON.parse(rd.stdout)];
    for (const o of [oc, od]) {
      if (oa.promoted) expect(o.test_f1_challenger).toBe(o.test_f1_champion);
      else
        expect([o.champion.version, o.test_f1_champion, o.test_f1_challenger]).toEqual([
          oa.champion.version,
          oa.test_f1_champion,
          oa.test_f1_challenger,
        ]);
    }
    expect([oc.promoted, od.promoted]).toEqual([false, false]);
    expect((await versions(home)).length).toBe(before + 3);
    expect(integrity(home)).toBe('ok');
  }, 300_000);

  it('after kill -9 in the middle of a retrain the registry is consistent and the next run succeeds', async () => {
    const before = await versions(home);
    const aliasBefore = JSON.parse((await cli(['models', 'list', '--json'], {}, home)).stdout)[0].aliases;
    const victim = spawnCli(['retrain', '--force', '--cv', '2'], home);
    await waitFor(async () => (await runningRuns(home, 'trial-')) > 0, 60_000);
    victim.child.kill('SIGKILL');
    const killed = await victim.done;
    expect(killed.signal).toBe('SIGKILL');
    expect(integrity(home)).toBe('ok');
    const runs = JSON.parse((await cli(['runs', 'list', '--all', '--json'], {}, home)).stdout) as Array<{
      name: string;
      status: string;
      error: string | null;
    }>;
    expect(runs.filter((r) => r.status === 'RUNNING')).toEqual([]);
    expect(runs.find((r) => r.name === 'retrain')).toMatchObject({
      status: 'FAILED',
      error: expect.stringMatching(/exited without finishing/),
    });
    expect(await versions(home)).toEqual(before);
    expect(JSON.parse((await cli(['models', 'list', '--json'], {}, home)).stdout)[0].aliases).toEqual(aliasBefore);
    const next = await cli(['retrain', '--force', '--cv', '2', '--json'], {}, home);
    expect(next.code).toBe(0);
    expect(JSON.parse(next.stdout).trained).toBe(true);
  }, 180_000);

  it('SIGTERM marks the run FAILED and leaves the aliases alone', async () => {
    const aliasBefore = JSON.parse((await cli(['models', 'list', '--json'], {}, home)).stdout)[0].aliases;
    const victim = spawnCli(['retrain', '--force', '--cv', '2'], home);
    // Signalled while it trains (a fixed delay raced the whole retrain once scoring got faster).
    await waitFor(async () => (await runningRuns(home, 'trial-')) > 0, 60_000);
    victim.child.kill('SIGTERM');
    const r = await victim.done;
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/interrupted by SIGTERM; marked \d+ run\(s\) FAILED/);
    const latest = JSON.parse((await cli(['runs', 'list', '--json', '--limit', '1'], {}, home)).stdout)[0];
    expect(latest).toMatchObject({ name: 'retrain', status: 'FAILED', error: 'interrupted by SIGTERM' });
    expect(JSON.parse((await cli(['models', 'list', '--json'], {}, home)).stdout)[0].aliases).toEqual(aliasBefore);
  }, 60_000);
});
