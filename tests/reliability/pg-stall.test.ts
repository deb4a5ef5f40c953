import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../server/helpers.js';
import { stallProxy } from '../helpers/stall-proxy.js';
import type { StallProxy } from '../helpers/stall-proxy.js';
import { PG_URL, changes, observe, pgHome, predictLoad, promoteAfterOutage } from './pg-serve.js';
import { requirePg } from '../helpers/pg.js';
import type { PgHome } from './pg-serve.js';

// The built binary: `npm run build` first (npm run test:reliability does).
requirePg('the stalled PostgreSQL under serve load');

describe.skipIf(!PG_URL)('rainops serve on PostgreSQL while the network to it stalls', () => {
  let home: PgHome;
  let proxy: StallProxy;
  beforeAll(async () => {
    home = await pgHome();
    proxy = await stallProxy(home.registry);
  }, 240_000);
  afterAll(async () => {
    proxy?.resume();
    await home?.close();
    await proxy?.close();
  });

  it('keeps answering, says the registry is unreachable though no connection closed, and follows the alias after', async () => {
    // Through the proxy: --poll 30 (only the watch can notice), and the default poll of 2 s.
    const replicas = [['--poll', '30'], []].map((args) => ({ p: home.serve(args, { RAINOPS_REGISTRY: proxy.url }) }));
    const urls = await Promise.all(replicas.map(({ p }) => p.listening));
    for (const url of urls) await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 10_000);
    const monitors = urls.map(observe);
    const loads = urls.map((url) => predictLoad(url, 3));
    await waitFor(() => loads.every((l) => l.answers.length >= 50), 10_000);

    const stalledAt = Date.now();
    proxy.stall();
    // The watch asks every 5 s and waits 5 s for an answer.
    const noticed = await Promise.all(
      monitors.map(({ seen }) =>
        waitFor(() => seen.find((s) => s.at > stalledAt && s.ready === 503 && s.up === 0), 20_000),
      ),
    );
    for (const s of noticed) {
      expect(s.reason).toMatch(/the registry is unreachable .*did not answer within 5000 ms.*; still serving v1/);
    }
    const resumedAt = Date.now();
    proxy.resume();
    const back = await Promise.all(
      monitors.map(({ seen }) =>
        waitFor(() => seen.find((s) => s.at > resumedAt && s.ready === 200 && s.up === 1), 20_000),
      ),
    );
    console.log(
      `stalled for ${resumedAt - stalledAt} ms; /ready said unreachable ${noticed.map((s) => s.at - stalledAt).join(' and ')} ms after the stall began, ready again ${back.map((s) => s.at - resumedAt).join(' and ')} ms after it ended (--poll 30 and 2)`,
    );

    const { swaps, during } = await promoteAfterOutage(home, loads, monitors, {
      from: stalledAt,
      to: resumedAt,
      what: 'stall',
    });
    for (const [i, { p }] of replicas.entries()) {
      expect(loads[i]!.failures).toEqual([]);
      expect(during[i]).toBeGreaterThan(0);
      expect(swaps[i]).toBeLessThan(2000);
      const seen = monitors[i]!.seen;
      expect(changes(seen.map((s) => s.up))).toEqual([1, 0, 1]);
      expect(changes(seen.map((s) => s.ready))).toEqual([200, 503, 200]);
      expect(p.child.exitCode).toBeNull();
      expect(p.stderr()).toMatch(/the registry is reachable again/);
      expect(p.stderr()).toMatch(/moved from v1 to v2: now serving v2/);
      expect(p.stderr()).not.toMatch(/\n\s+at /);
    }
  }, 180_000);
});
