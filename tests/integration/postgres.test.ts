import { describe, expect, it } from 'vitest';
import { cli, tempDir } from '../helpers/cli.js';
import { PG_URL, pgTestDatabase, requirePg } from '../helpers/pg.js';

requirePg('the end-to-end run against PostgreSQL');

describe.skipIf(!PG_URL)('etl, optimize and models show with the registry on PostgreSQL', () => {
  const { url } = pgTestDatabase('rainops_e2e');

  it('registers and promotes a version that models show lists, and registry status names PostgreSQL', async () => {
    const env = { RAINOPS_REGISTRY: url.href };
    const cwd = tempDir();
    const etl = await cli(['etl', '--until', '2009-12-31'], env, cwd);
    expect(etl.code, etl.stderr).toBe(0);
    const opt = await cli(['optimize', '--search', 'random', '--trials', '2', '--cv', '2'], env, cwd);
    expect(opt.code, opt.stderr).toBe(0);
    const show = await cli(['models', 'show', 'Rain_dataset_model_prod', '--json'], env, cwd);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/"prod_best"/);
    const status = await cli(['registry', 'status', '--json'], env, cwd);
    const parsed = JSON.parse(status.stdout) as { backend: string; url: string; counts: Record<string, number> };
    expect(parsed).toMatchObject({ backend: 'postgresql', counts: { versions: 1, aliases: 1, datasets: 1 } });
    // the password never shows
    if (url.password) expect(status.stdout + show.stdout + opt.stderr).not.toContain(`:${url.password}@`);
  }, 300_000);
});
