import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriesValue, waitFor } from '../server/helpers.js';
import { PG_URL, pgHome, predictLoad, settledOn, trailing } from './pg-serve.js';
import type { PgHome, PredictLoad } from './pg-serve.js';

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

const watchOnly = { args: ['--poll', '30'] };
const polling = { args: ['--workers', '2'] };

interface Observed {
  at: number;
  ready: number;
  reason: string;
  up: number;
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
    const replicas = [watchOnly, polling].map(({ args }) => {
      const p = home.serve(args);
      return { p, seen: [] as Observed[], url: '', load: null as PredictLoad | null };
    });
    for (const r of replicas) {
      r.url = await r.p.listening;
      await waitFor(async () => (await fetch(`${r.url}/ready`)).status === 200, 10_000);
    }
    // /ready and rainops_registry_up as a monitor sees them, every 50 ms through the outage.
    let watching = true;
    const monitors = replicas.map(async ({ url, seen }) => {
      while (watching) {
        try {
          const ready = await fetch(`${url}/ready`);
          const reason = ((await ready.json()) as { reason?: string }).reason ?? '';
          const up = seriesValue(await (await fetch(`${url}/metrics`)).text(), 'rainops_registry_up');
          seen.push({ at: Date.now(), ready: ready.status, reason, up });
        } catch (err) {
          seen.push({ at: Date.now(), ready: 0, reason: String(err), up: NaN });
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    const loads = replicas.map((r) => (r.load = predictLoad(r.url, 3)));
    await waitFor(() => loads.every((l) => l.answers.length >= 50), 10_000);
    /** The latest observation of every replica, when all match `ok` and were made after `since`. */
    const all = (since: number, ok: (s: Observed) => boolean) => {
      const latest = replicas.map((r) => r.seen.at(-1));
      return latest.every((s) => s && s.at > since && ok(s)) ? (latest as Observed[]) : null;
    };

    let stoppedAt = 0;
    let startedAt = 0;
    try {
      stoppedAt = Date.now();
      await ctl('stop');
      const stopTook = Date.now() - stoppedAt;
      // Not all at once: each replica's first observation of the outage.
      const noticed = await Promise.all(
        replicas.map(({ seen }) =>
          waitFor(() => seen.find((s) => s.at > stoppedAt && s.ready === 503 && s.up === 0), 10_000),
        ),
      );
      for (const s of noticed) expect(s.reason).toMatch(/the registry is unreachable .*; still serving v1/);
      // The deliberate outage: long enough for the watches to fail to reconnect a few times.
      await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + 2000 - Date.now())));
      expect(all(stoppedAt, (s) => s.ready === 503 && s.up === 0)).not.toBeNull();
      startedAt = Date.now();
      await ctl('start');
      await waitFor(accepting, 30_000, 100);
      const accepted = Date.now();
      const back = await Promise.all(
        replicas.map(({ seen }) =>
          waitFor(() => seen.find((s) => s.at > accepted && s.ready === 200 && s.up === 1), 15_000),
        ),
      );
      console.log(
        `PostgreSQL: stop took ${stopTook} ms, down for ${startedAt - stoppedAt} ms, start took ${accepted - startedAt} ms; /ready said unreachable ${noticed.map((s) => s.at - stoppedAt).join(' and ')} ms after the stop began, ready again ${back.map((s) => s.at - startedAt).join(' and ')} ms after the start began (--poll 30, and --workers 2 polling every 2 s)`,
      );
    } finally {
      if (stoppedAt && !startedAt) await ensureRunning();
    }

    const promoteStart = Date.now();
    await home.promote(2);
    const promoted = Date.now();
    await waitFor(() => loads.every((l) => trailing(l, 2) >= 20), 10_000);
    await Promise.all(loads.map((l) => l.stop()));
    watching = false;
    await Promise.all(monitors);

    const swaps = loads.map((l) => settledOn(l, 2) - promoteStart);
    const during = loads.map((l) => l.answers.filter((a) => a.sentAt >= stoppedAt && a.doneAt <= startedAt).length);
    console.log(
      `after the restart: promote took ${promoted - promoteStart} ms, answering v2 only from ${swaps.join(' and ')} ms after it started; predictions sent ${loads.map((l) => l.sent()).join(' + ')} (${during.join(' + ')} while PostgreSQL was down), failed ${loads.map((l) => l.failures.length).join(' + ')}`,
    );
    for (const [i, r] of replicas.entries()) {
      expect(loads[i]!.failures).toEqual([]);
      expect(during[i]).toBeGreaterThan(0);
      expect(swaps[i]).toBeLessThan(2000);
      // The gauge went down, then up again; /ready with it.
      const ups = r.seen.map((s) => s.up).filter((u, k, list) => k === 0 || u !== list[k - 1]);
      expect(ups).toEqual([1, 0, 1]);
      expect(r.seen.filter((s) => s.ready !== 200 && s.ready !== 503)).toEqual([]);
      // One process says one thing at a time (two workers may answer differently for the moment between their watches).
      const readies = r.seen.map((s) => s.ready).filter((u, k, list) => k === 0 || u !== list[k - 1]);
      if (i === 0) expect(readies).toEqual([200, 503, 200]);
      expect(r.seen.at(-1)).toMatchObject({ ready: 200, up: 1 });
      expect(r.p.child.exitCode).toBeNull();
      expect(r.p.stderr()).toMatch(/the registry is unreachable/);
      expect(r.p.stderr()).toMatch(/the registry is reachable again/);
      expect(r.p.stderr()).toMatch(/moved from v1 to v2: now serving v2/);
      expect(r.p.stderr()).not.toMatch(/\n\s+at /);
    }
  }, 180_000);
});
