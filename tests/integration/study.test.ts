import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRegistry } from '../../src/registry/index.js';
import type { Registry } from '../../src/registry/index.js';
import { cli, tempDir } from '../helpers/cli.js';
import { PG_URL, pgTestDatabase, requirePg } from '../helpers/pg.js';
import { waitFor } from '../helpers/registry.js';
import { spawnCli } from '../helpers/spawn.js';

requirePg('the shared search on PostgreSQL');

const STUDY = ['optimize', '--study', 'nightly', '--search', 'random', '--trials', '4', '--cv', '2', '--jobs', '1'];

/** Two workers' environments: one registry, one store, two host names; short leases so a killed worker is noticed soon. */
function workers(registry: string | undefined): [Record<string, string>, Record<string, string>] {
  const common: Record<string, string> = {
    RAINOPS_LEASE_SECONDS: '2',
    ...(registry ? { RAINOPS_REGISTRY: registry } : {}),
  };
  return [
    { ...common, RAINOPS_HOST: 'host-a' },
    { ...common, RAINOPS_HOST: 'host-b' },
  ];
}

async function withRegistry<T>(target: string, fn: (r: Registry) => Promise<T>): Promise<T> {
  const r = await openRegistry(target, { readonly: true });
  try {
    return await fn(r);
  } finally {
    await r.close();
  }
}

/** What the study left: its trials, the trial runs by index, the versions registered. */
async function outcome(target: string) {
  return withRegistry(target, async (r) => {
    const runs = await r.listRuns({});
    const trialRuns = runs.filter((x) => x.tags.study === 'nightly' && x.name.startsWith('trial-'));
    return {
      study: await r.getStudy('nightly'),
      trials: await r.listStudyTrials('nightly'),
      finishedTrialRuns: trialRuns
        .filter((x) => x.status === 'FINISHED')
        .map((x) => x.tags.trial)
        .sort(),
      failedTrialRuns: trialRuns.filter((x) => x.status === 'FAILED'),
      workers: runs.filter((x) => x.tags.study === 'nightly' && x.name === 'optimize'),
      versions: await r.listModelVersions('Rain_dataset_model_prod'),
    };
  });
}

describe('optimize --study: one search shared by two workers', () => {
  it('on SQLite: two workers started together run each of the 4 trials once and register one version', async () => {
    const home = tempDir();
    expect((await cli(['etl', '--until', '2009-12-31'], {}, home)).code).toBe(0);
    const [a, b] = workers(undefined);
    const [ra, rb] = await Promise.all([spawnCli(STUDY, home, a).done, spawnCli(STUDY, home, b).done]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    const o = await outcome(join(home, '.rainops/registry.db'));
    expect(o.study).toMatchObject({ state: 'DONE', trials: 4, counts: { DONE: 4, FAILED: 0, RUNNING: 0, PENDING: 0 } });
    expect(o.trials.map((t) => t.attempts)).toEqual([1, 1, 1, 1]);
    expect(o.finishedTrialRuns).toEqual(['0', '1', '2', '3']);
    expect(o.versions).toHaveLength(1);
    // exactly one worker registered; both print the same version and say who ran what
    expect(o.workers.filter((w) => w.tags.study_finished_here === 'true')).toHaveLength(1);
    const here = o.workers.map((w) => Number(w.tags.study_trials_here));
    expect(here.reduce((x, y) => x + y, 0)).toBe(4);
    for (const out of [ra.stdout, rb.stdout]) expect(out).toMatch(/study nightly: 4 trials, \d run by this worker/);
    expect(ra.stdout).toMatch(/Rain_dataset_model_prod v1 from run/);
    expect(rb.stdout).toMatch(/Rain_dataset_model_prod v1 from run/);

    // the trials show which host ran each
    const list = await cli(['runs', 'list', '--study', 'nightly'], {}, home);
    expect(list.stdout).toMatch(/host/);
    for (const t of o.trials) expect(list.stdout).toMatch(new RegExp(`trial-${t.index} .* ${t.hostname} `));
    for (const t of o.trials) expect(['host-a', 'host-b']).toContain(t.hostname);

    // a third worker with other settings is refused, naming the flags
    const clash = await cli([...STUDY.slice(0, 5), '--trials', '6', '--cv', '3'], {}, home);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/--trials 6 \(the study has 4\), --cv 3 \(the study has 2\)/);
  }, 180_000);

  describe.skipIf(!PG_URL)('on PostgreSQL', () => {
    const { url } = pgTestDatabase('rainops_study');

    it('a worker killed with SIGKILL mid-trial loses the trial to the other; the study completes with one version', async () => {
      const home = tempDir();
      const registry = url.href;
      expect((await cli(['etl', '--until', '2009-12-31'], { RAINOPS_REGISTRY: registry }, home)).code).toBe(0);
      const [a, b] = workers(registry);
      const wa = spawnCli(STUDY, home, a);
      // host-a holds a trial (its worker is mid-trial): kill it there
      let held = -1;
      await waitFor(
        () =>
          withRegistry(registry, async (r) => {
            const t = (await r.listStudyTrials('nightly')).find(
              (x) => x.state === 'RUNNING' && x.hostname === 'host-a',
            );
            held = t?.index ?? -1;
            return t !== undefined;
          }).catch(() => false),
        60_000,
      );
      const wb = spawnCli(STUDY, home, b);
      wa.child.kill('SIGKILL');
      const [ka, rb] = await Promise.all([wa.done, wb.done]);
      expect(ka.signal).toBe('SIGKILL');
      expect(rb.code, rb.stderr).toBe(0);
      expect(rb.stderr).toMatch(new RegExp(`trial ${held} again \\(attempt 2\\)`));
      const o = await outcome(registry);
      expect(o.study).toMatchObject({ state: 'DONE', counts: { DONE: 4, FAILED: 0 } });
      const again = o.trials.find((t) => t.index === held)!;
      expect(again).toMatchObject({ attempts: 2, hostname: 'host-b', state: 'DONE' });
      expect(o.finishedTrialRuns).toEqual(['0', '1', '2', '3']);
      // the killed worker's run and the trial it held are FAILED once their leases ran out
      expect(o.workers.find((w) => w.hostname === 'host-a')?.status).toBe('FAILED');
      expect(o.failedTrialRuns.map((x) => x.tags.trial)).toEqual([String(held)]);
      expect(o.versions).toHaveLength(1);
      expect(rb.stdout).toMatch(/which registered the best/);
    }, 180_000);
  });
});
