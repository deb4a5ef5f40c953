import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, tempDir, weatherCsvText } from '../helpers/cli.js';

describe('rainops optimize --search halving on a small sample', () => {
  const home = tempDir();

  it('records every rung as trials of the search and registers the survivor', async () => {
    // Every 20th row of the bundled data set: all stations, about 7,000 rows.
    const lines = weatherCsvText().split('\n');
    const sample = join(home, 'sample.csv');
    writeFileSync(sample, `${lines.filter((l, i) => i === 0 || (i % 20 === 0 && l)).join('\n')}\n`);
    expect((await cli(['etl', '--source', sample], {}, home)).code).toBe(0);

    const r = await cli(
      [
        'optimize',
        '--search',
        'halving',
        '--trials',
        '6',
        '--eta',
        '3',
        '--cv',
        '2',
        '--engine',
        'wasm',
        '--jobs',
        '1',
        '--json',
      ],
      {},
      home,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('halving: 6 candidates on 1/27 of the rows, 2 on 1/9, then 1 cross-validated in full');
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ version: 1, alias: 'prod_best', cv: { trials: 1, folds: 2 } });

    const trials = JSON.parse((await cli(['runs', 'list', '--parent', out.run_id, '--json'], {}, home)).stdout);
    const rungOf = (rung: string) => trials.filter((t: { tags: { rung: string } }) => t.tags.rung === rung);
    expect(trials).toHaveLength(6 + 2 + 1);
    expect(rungOf('0')).toHaveLength(6);
    expect(rungOf('1')).toHaveLength(2);
    expect(rungOf('2')).toHaveLength(1);
    for (const t of trials) expect(t.status).toBe('FINISHED');
    expect(rungOf('0').map((t: { tags: { budget: string } }) => t.tags.budget)).toEqual(Array(6).fill('1/27'));
    // The survivor was at rung 1, and its full cross-validation is the search's best.
    const survivor = rungOf('2')[0];
    expect(survivor.tags.budget).toBe('1');
    expect(rungOf('1').map((t: { tags: { trial: string } }) => t.tags.trial)).toContain(survivor.tags.trial);
    expect(survivor.metrics.cv_score).toBeCloseTo(out.cv.score, 12);

    const parent = JSON.parse((await cli(['runs', 'show', out.run_id, '--json'], {}, home)).stdout);
    expect(parent.params).toMatchObject({ search: 'halving', trials: '6', eta: '3', min_budget: '1/27' });
    const models = JSON.parse((await cli(['models', 'show', 'Rain_dataset_model_prod', '--json'], {}, home)).stdout);
    expect(JSON.stringify(models)).toContain(out.run_id);
  }, 240_000);

  it('refuses an eta below 2 and a budget outside (0, 1] as usage errors', async () => {
    const eta = await cli(['optimize', '--search', 'halving', '--eta', '1'], {}, home);
    expect([eta.code, eta.stderr]).toEqual([
      2,
      expect.stringContaining('--eta: expected a whole number of at least 2'),
    ]);
    const budget = await cli(['optimize', '--search', 'halving', '--min-budget', '1.5'], {}, home);
    expect(budget.code).toBe(2);
    expect(budget.stderr).toContain('--min-budget: expected a share of the rows above 0 and at most 1');
  });

  it('refuses to resume a halving search, saying what to do instead', async () => {
    const runs = JSON.parse((await cli(['runs', 'list', '--json'], {}, home)).stdout);
    const search = runs.find((r: { name: string }) => r.name === 'optimize');
    const r = await cli(['optimize', '--resume', search.id], {}, home);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`run ${search.id} is a halving search, which cannot be resumed`);
  });
});
