import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../server/helpers.js';
import { PG_URL, changes, observe, pgHome, predictLoad, promoteAfterOutage } from './pg-serve.js';
import type { PgHome } from './pg-serve.js';

// Stops the PostgreSQL server for real, which drops every other connection to it: this suite runs files one at a time.
const run = promisify(execFile);
const CTL = '/usr/bin/pg_ctlcluster';
// The cluster serving RAINOPS_TEST_PG_URL: the newest installed version's 'main', or RAINOPS_TEST_PG_CLUSTER (e.g. 15/main).
const cluster = (process.env.RAINOPS_TEST_PG_CLUSTER ?? '').split('/').filter(Boolean);
const pgVersion =
  cluster[0] ??
  (existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))[0]
    : undefined);
const clusterName = cluster[1] ?? 'main';

const why = !PG_URL
  ? 'RAINOPS_TEST_PG_URL is not set'
  : process.getuid?.() !== 0
    ? 'restarting PostgreSQL needs root'
    : !existsSync(CTL) || pgVersion === undefined
      ? `no ${CTL} or no version under /usr/lib/postgresql to restart PostgreSQL with`
      : null;
if (why && process.env.CI === 'true') {
  throw new Error(`${why}: in CI the PostgreSQL restart under serve load must not be skipped`);
}
if (why) console.warn(`${why}: the PostgreSQL restart under serve load is skipped`);

const ctl = (action: 'start' | 'stop') =>
  run(CTL, [pgVersion!, clusterName, action, ...(action === 'stop' ? ['--mode', 'fast'] : [])]);

async function accepting(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 1000 });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/** Starts the cluster unless it runs, and waits until it accepts connections. */
async function ensureRunning(): Promise<void> {
  if (await accepting()) return;
  // Already running (still starting up) is fine: exit code 2 from pg_ctlcluster start.
  await ctl('start').catch(() => {});
  await waitFor(accepting, 60_000, 100);
}

describe.skipIf(why !== null)('rainops serve on PostgreSQL while the database restarts', () => {
  let home: PgHome;
  beforeAll(async () => {
    await ensureRunning();
    home = await pgHome();
  }, 240_000);
  afterAll(async () => {
    // Whatever happened, PostgreSQL runs again for the rest of the suite.
    await ensureRunning();
    await home?.close();
  }, 120_000);

  it('keeps answering, says the registry is unreachable while it is down, and follows the alias again after', async () => {
    // --poll 30: only the watch's connection (LISTEN) can notice the outage and announce the move in time;
    // the other polls every 2 s (the default), which fails while the database is down, in each of two workers.
    const replicas = [
      ['--poll', '30'],
      ['--workers', '2'],
    ].map((args) => ({ p: home.serve(args) }));
    const urls = await Promise.all(replicas.map(({ p }) => p.listening));
    for (const url of urls) await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 10_000);
    const monitors = urls.map(observe);
    const loads = urls.map((url) => predictLoad(url, 3));
    await waitFor(() => loads.every((l) => l.answers.length >= 50), 10_000);

    let stoppedAt = 0;
    let startedAt = 0;
    try {
      stoppedAt = Date.now();
      await ctl('stop');
      const stopTook = Date.now() - stoppedAt;
      const noticed = await Promise.all(
        monitors.map(({ seen }) =>
          waitFor(() => seen.find((s) => s.at > stoppedAt && s.ready === 503 && s.up === 0), 10_000),
        ),
      );
      for (const s of noticed) expect(s.reason).toMatch(/the registry is unreachable .*; still serving v1/);
      // The deliberate outage: long enough for the watches to fail to reconnect a few times.
      await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + 2000 - Date.now())));
      startedAt = Date.now();
      await ctl('start');
      await waitFor(accepting, 30_000, 100);
      const accepted = Date.now();
      const back = await Promise.all(
        monitors.map(({ seen }) =>
          waitFor(() => seen.find((s) => s.at > startedAt && s.ready === 200 && s.up === 1), 15_000),
        ),
      );
      console.log(
        `PostgreSQL: stop took ${stopTook} ms, down for ${startedAt - stoppedAt} ms, start took ${accepted - startedAt} ms; /ready said unreachable ${noticed.map((s) => s.at - stoppedAt).join(' and ')} ms after the stop began, ready again ${back.map((s) => s.at - startedAt).join(' and ')} ms after the start began (--poll 30, and --workers 2 polling every 2 s)`,
      );
    } finally {
      if (stoppedAt && !startedAt) await ensureRunning();
    }

    const { swaps, during } = await promoteAfterOutage(home, loads, monitors, {
      from: stoppedAt,
      to: startedAt,
      what: 'restart',
    });
    for (const [i, { p }] of replicas.entries()) {
      expect(loads[i]!.failures).toEqual([]);
      expect(during[i]).toBeGreaterThan(0);
      expect(swaps[i]).toBeLessThan(2000);
      const seen = monitors[i]!.seen;
      // The gauge went down, then up again (the cluster's is the lowest of its workers').
      expect(changes(seen.map((s) => s.up))).toEqual([1, 0, 1]);
      expect(seen.filter((s) => s.ready !== 200 && s.ready !== 503)).toEqual([]);
      // One process says one thing at a time (two workers may answer differently for the moment between their watches).
      if (i === 0) expect(changes(seen.map((s) => s.ready))).toEqual([200, 503, 200]);
      expect(p.child.exitCode).toBeNull();
      expect(p.stderr()).toMatch(/the registry is unreachable/);
      expect(p.stderr()).toMatch(/the registry is reachable again/);
      expect(p.stderr()).toMatch(/moved from v1 to v2: now serving v2/);
      expect(p.stderr()).not.toMatch(/\n\s+at /);
    }
  }, 180_000);
});
