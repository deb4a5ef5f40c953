import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../server/helpers.js';
import { PG_URL, pgHome, predictLoad, settledOn, trailing } from './pg-serve.js';
import { requirePg } from '../helpers/pg.js';
import type { PgHome } from './pg-serve.js';

// The built binary: `npm run build` first (npm run test:reliability does).
requirePg('the serve replicas on PostgreSQL');

describe.skipIf(!PG_URL)('two rainops serve replicas on one PostgreSQL registry', () => {
  let home: PgHome;
  beforeAll(async () => {
    home = await pgHome();
  }, 240_000);
  afterAll(() => home?.close());

  it('both answer with the version promote moved prod_best to within 2 s, and no prediction fails meanwhile', async () => {
    // --poll 30: a poll cannot be what finds the move within 2 s; only the announced move (LISTEN) can.
    const replicas = [home.serve(['--poll', '30']), home.serve(['--poll', '30'])];
    const urls = await Promise.all(replicas.map((p) => p.listening));
    for (const url of urls) {
      await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 10_000);
    }
    const loads = urls.map((url) => predictLoad(url, 4));
    await waitFor(() => loads.every((l) => l.answers.length >= 20), 10_000);
    expect(loads.flatMap((l) => l.answers.map((a) => a.version))).not.toContain(2);

    const promoteStart = Date.now();
    await home.promote(2);
    const promoted = Date.now();
    // 20 answers from v2 in a row after the last from v1, so that a replica going back would show.
    await waitFor(() => loads.every((l) => trailing(l, 2) >= 20), 10_000);
    await Promise.all(loads.map((l) => l.stop()));

    const latency = loads.map((l) => settledOn(l, 2) - promoteStart);
    console.log(
      `promote took ${promoted - promoteStart} ms; answering v2 only from ${latency.map((ms, i) => `replica ${i + 1}: ${ms} ms`).join(', ')} after promote started (${latency.map((ms) => ms - (promoted - promoteStart)).join(' and ')} ms after it returned); predictions sent ${loads.map((l) => l.sent()).join(' + ')}, failed ${loads.map((l) => l.failures.length).join(' + ')}`,
    );
    for (const l of loads) expect(l.failures).toEqual([]);
    for (const ms of latency) expect(ms).toBeLessThan(2000);
    for (const url of urls) {
      const ready = (await (await fetch(`${url}/ready`)).json()) as { status: string; version: number };
      expect(ready).toMatchObject({ status: 'ready', version: 2 });
    }
    for (const p of replicas) {
      expect(p.child.exitCode).toBeNull();
      expect(p.stderr()).toMatch(/moved from v1 to v2: now serving v2/);
    }
  }, 120_000);
});
