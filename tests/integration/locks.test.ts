import { rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openRegistry } from '../../src/registry/index.js';
import { cli, tempDir } from '../helpers/cli.js';

const MODEL_LOCK = 'model:Rain_dataset_model_prod';

/** --json keys as this code reads them, whether the output spells them camelCase or snake_case. */
function camel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camel);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
      k === 'tags' || k === 'params' ? v : camel(v),
    ]),
  );
}
const parse = (text: string) => camel(JSON.parse(text)) as any; // eslint-disable-line @typescript-eslint/no-explicit-any -- shapes checked by the assertions
const homes: string[] = [];

afterEach(async () => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

/** A home whose model lock is held by a retrain on another host, last renewed `agoMs` ago with a 60 s lease. */
async function heldElsewhere(agoMs: number): Promise<{ home: string; runId: string; beat: string }> {
  const home = tempDir();
  homes.push(home);
  const beat = new Date(Date.now() - agoMs);
  const registry = await openRegistry(join(home, '.rainops/registry.db'), {
    hostname: 'container-1',
    pid: 4242,
    now: () => beat,
    leaseMs: 60_000,
  });
  await registry.acquireLock(MODEL_LOCK);
  const runId = (await registry.startRun({ experiment: 'Rain Dataset', name: 'retrain' })).id;
  await registry.close();
  return { home, runId, beat: beat.toISOString() };
}

describe('rainops locks', () => {
  it('lists a lock held on another host with its run, heartbeat and lease, then breaks it on the record', async () => {
    const { home, runId, beat } = await heldElsewhere(1_000);
    const listed = await cli(['locks', 'list', '--json'], {}, home);
    expect(listed.code).toBe(0);
    expect(parse(listed.stdout)).toEqual([
      {
        name: MODEL_LOCK,
        ownerPid: 4242,
        hostname: 'container-1',
        runId,
        acquiredAt: beat,
        heartbeatAt: beat,
        leaseExpiresAt: new Date(Date.parse(beat) + 60_000).toISOString(),
        stale: false,
        staleReason: null,
      },
    ]);
    const text = await cli(['locks', 'list'], {}, home);
    expect(text.stdout).toMatch(
      new RegExp(
        `^lock +holder +run +acquired +heartbeat +expires +state\\n${MODEL_LOCK} +pid 4242 on container-1 +${runId.slice(0, 12)} .* held\\n$`,
      ),
    );

    const broken = await cli(['locks', 'break', MODEL_LOCK, '--reason', 'container was killed', '--json'], {}, home);
    expect(broken.code).toBe(0);
    const note = `lock ${MODEL_LOCK} broken by operator on ${hostname()}: container was killed`;
    expect(parse(broken.stdout)).toMatchObject({ lock: { name: MODEL_LOCK, runId }, runId, runFailed: true, note });
    expect(broken.stderr).toMatch(/warning: its holder's heartbeat was current/);

    const run = parse((await cli(['runs', 'show', runId, '--json'], {}, home)).stdout);
    expect(run).toMatchObject({ status: 'FAILED', error: note, tags: { lock_broken: expect.stringContaining(note) } });
    const after = await cli(['locks', 'list'], {}, home);
    expect([after.code, after.stdout, after.stderr]).toEqual([0, '', 'no locks are held\n']);
  });

  it('shows a lock whose lease ran out as stale; breaking it finds its run already failed', async () => {
    const { home, runId, beat } = await heldElsewhere(120_000);
    const [lock] = parse((await cli(['locks', 'list', '--json'], {}, home)).stdout);
    const end = new Date(Date.parse(beat) + 60_000).toISOString();
    expect(lock).toMatchObject({
      stale: true,
      staleReason: `heartbeat stopped at ${beat} on host container-1 (pid 4242); the lease ran out at ${end}`,
    });
    // a read-only command shows the run as it will be recorded
    expect(parse((await cli(['runs', 'show', runId, '--json'], {}, home)).stdout)).toMatchObject({
      status: 'FAILED',
      error: lock.staleReason,
    });
    const text = await cli(['locks', 'list'], {}, home);
    expect(text.stdout).toContain('stale: heartbeat stopped at');
    const broken = await cli(['locks', 'break', MODEL_LOCK], {}, home);
    expect(broken.code).toBe(0);
    expect(broken.stdout).toBe(
      `broke lock ${MODEL_LOCK} (held by pid 4242 on container-1, run ${runId} since ${beat})\nrun ${runId} had already ended; tagged lock_broken\n`,
    );
    expect(broken.stderr).toBe('');
  });

  it('names a missing lock, refuses an empty reason and a bad lease setting', async () => {
    const home = tempDir();
    homes.push(home);
    const missing = await cli(['locks', 'break', 'model:nope'], {}, home);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      "rainops: no lock named 'model:nope'; list the locks held now with 'rainops locks list'\n",
    );
    expect((await cli(['locks', 'break', MODEL_LOCK, '--reason', ' '], {}, home)).code).toBe(2);
    const bad = await cli(['locks', 'list'], { RAINOPS_LEASE_SECONDS: 'soon' }, home);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('rainops: config: RAINOPS_LEASE_SECONDS: expected a number of seconds\n');
  });
});
