import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/core/dataset/random.js';
import { EXAMPLE, MODEL, modelHome, post, spawnServe, waitFor } from '../server/helpers.js';
import type { ModelHome, ServeProcess } from '../server/helpers.js';

/** Posts the file's body six times at once (argv: url, file); prints "sending", then the answers as JSON. */
const SEND_SIX = `
import { readFileSync } from 'node:fs';
const [url, file] = process.argv.slice(1);
const body = readFileSync(file);
process.stdout.write('sending\\n');
const answers = await Promise.all(Array.from({ length: 6 }, async () => {
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  return { status: r.status, text: await r.text() };
}));
process.stdout.write(JSON.stringify(answers));
`;

const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

/** Seeded malformed bodies: missing and mistyped fields, huge numbers, impossible dates, unknown places, bad JSON, deep nesting. */
function malformed(n: number): Array<{ body: string; type: string }> {
  const random = seededRandom(7);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const keys = Object.keys(EXAMPLE.features);
  // Values no field accepts, and field-specific impossibilities (bounds, calendar, stations).
  const values: unknown[] = [null, true, '', 'NaN', 'x'.repeat(5000), [], {}, [1, 2], { $gt: 0 }];
  const impossible: Array<[string, unknown]> = [
    ['MinTemp', 1e308],
    ['MaxTemp', -1e308],
    ['Date', '2024-02-30'],
    ['Location', 'Atlantis'],
    ['Sunshine', 25],
    ['RainToday', -1],
    ['WindGustDir', 'NORTH'],
  ];
  const out: Array<{ body: string; type: string }> = [];
  for (let i = 0; i < n; i++) {
    const f: Record<string, unknown> = { ...EXAMPLE.features };
    const kind = i % 8;
    if (kind === 0) delete f[pick(keys)];
    else if (kind === 1) f[pick(keys)] = pick(values);
    else if (kind === 2) for (let k = 0; k < 5; k++) f[pick(keys)] = pick(values);
    else if (kind === 7) {
      const [key, value] = pick(impossible);
      f[key] = value;
    }
    const body =
      kind === 3
        ? JSON.stringify(f).slice(0, Math.floor(random() * 200))
        : kind === 4
          ? '['.repeat(5000) + ']'.repeat(5000)
          : kind === 5
            ? JSON.stringify({ features: pick(values) })
            : kind === 6
              ? JSON.stringify(pick(values))
              : JSON.stringify({ features: f });
    out.push({ body, type: i % 50 === 49 ? 'text/plain' : 'application/json' });
  }
  return out;
}

describe('rainops serve under bad input, alias moves and tampered bundles', () => {
  let home: ModelHome;
  let server: ServeProcess;
  let url: string;

  beforeAll(async () => {
    home = await modelHome(3);
    server = spawnServe(['--port', '0', '--poll', '0.2'], home.dir);
    url = await server.listening;
  }, 240_000);

  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    home?.close();
  });

  it('answers thousands of malformed bodies with 4xx only, stays up, memory flat', async () => {
    const bodies = malformed(3000);
    await post(`${url}/predict/`, EXAMPLE);
    const before = rss(server.child.pid!);
    const statuses = new Map<number, number>();
    for (let i = 0; i < bodies.length; i += 50) {
      const batch = bodies.slice(i, i + 50);
      const res = await Promise.all(
        batch.map((b) =>
          fetch(`${url}/predict/`, { method: 'POST', headers: { 'Content-Type': b.type }, body: b.body }).then(
            (r) => (r.body?.cancel(), r.status),
          ),
        ),
      );
      for (const s of res) statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
    const big = await fetch(`${url}/predict/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: 'x'.repeat(5 * 1024 * 1024),
    }).then((r) => r.status);
    expect(big).toBe(413);
    const bad = [...statuses.keys()].filter((s) => s < 400 || s >= 500);
    expect(bad, JSON.stringify([...statuses])).toEqual([]);
    expect((await post(`${url}/predict/`, EXAMPLE)).status).toBe(200);
    expect(rss(server.child.pid!) - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('keeps /health under 100 ms (p99) while six 10,000-row batches of invalid rows are in flight, and answers each in a small body', async () => {
    const bad = {
      ...EXAMPLE.features,
      MinTemp: 'cold',
      Location: 'Atlantis',
      Date: '2024-02-30',
      WindGustDir: 'NORTH',
    };
    const body = JSON.stringify({ features: new Array(10_000).fill(bad) });
    // Warm: the first batch compiles the code paths it takes.
    expect((await post(`${url}/predict/batch`, { features: new Array(1000).fill(bad) })).status).toBe(200);
    // The batches come from another process, as they would: this one only probes, and its timings are the server's.
    const file = join(home.dir, 'bad-batch.json');
    writeFileSync(file, body);
    const sender = spawn(process.execPath, ['--input-type=module', '-e', SEND_SIX, `${url}/predict/batch`, file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    sender.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    let inFlight = true;
    const exited = new Promise<number | null>((resolve) =>
      sender.on('close', (code) => {
        inFlight = false;
        resolve(code);
      }),
    );
    // Probing starts once the server has begun reading the batches.
    await waitFor(() => out.includes('sending'), 10_000);
    const latencies: number[] = [];
    while (inFlight) {
      const t0 = performance.now();
      const r = await fetch(`${url}/health`);
      await r.arrayBuffer();
      latencies.push(performance.now() - t0);
      expect(r.status).toBe(200);
    }
    expect(await exited).toBe(0);
    const answers = JSON.parse(out.slice(out.indexOf('\n') + 1)) as Array<{ status: number; text: string }>;
    expect(answers).toHaveLength(6);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(JSON.parse(a.text)).toMatchObject({ invalid: 10_000, details_omitted: 9_900 });
      expect(a.text.length).toBeLessThan(body.length / 4);
    }
    // Probed all along (not only once the batches were done), and not kept waiting behind them: batch work
    // runs in slices of about 5 ms. What is left are garbage-collection pauses, which a machine shared with
    // other work stretches past 100 ms now and then: at most 1 probe in 100 may see one, and none a batch.
    expect(latencies.length).toBeGreaterThan(20);
    const sorted = [...latencies].sort((a, b) => a - b);
    const shown = JSON.stringify(latencies.map(Math.round));
    expect(sorted[Math.floor(sorted.length * 0.99)]!, shown).toBeLessThan(100);
    expect(sorted.at(-1)!, shown).toBeLessThan(300);
  });

  it('fails no request while prod_best moves back and forth under load', async () => {
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const versions = new Set<number>();
    const client = async () => {
      while (!stop) {
        const r = await post(`${url}/predict/`, EXAMPLE).catch((e: Error) => ({
          status: 0,
          text: async () => e.message,
          json: async () => null,
        }));
        if (r.status === 200) {
          ok++;
          versions.add(((await r.json()) as { model: { version: number } }).model.version);
        } else failures.push(`${r.status} ${await r.text()}`);
      }
    };
    const clients = Array.from({ length: 20 }, client);
    for (let i = 0; i < 12; i++) {
      home.registry.setAlias({
        model: MODEL,
        alias: 'prod_best',
        version: (i % 3) + 1,
        expected: undefined,
        actor: 'test',
        reason: 'flip',
      });
      await new Promise((r) => setTimeout(r, 400));
    }
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(500);
    expect(versions.size).toBeGreaterThan(1);
  });

  it('keeps its model when the next bundle has a flipped byte, and counts the failed reload', async () => {
    home.registry.setAlias({
      model: MODEL,
      alias: 'prod_best',
      version: 1,
      expected: undefined,
      actor: 'test',
      reason: 'reset',
    });
    await waitFor(
      async () => ((await (await fetch(`${url}/model`)).json()) as { version: number }).version === 1,
      10_000,
    );
    const trees = join(home.rainopsHome, 'store/models', MODEL, '2/trees.json');
    const bytes = readFileSync(trees);
    bytes.writeUInt8(bytes.readUInt8(100) ^ 1, 100);
    writeFileSync(trees, bytes);
    home.registry.setAlias({
      model: MODEL,
      alias: 'prod_best',
      version: 2,
      expected: 1,
      actor: 'test',
      reason: 'tampered',
    });
    const metrics = await waitFor(async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return /rainops_model_reload_failures_total [1-9]/.test(text) ? text : null;
    }, 10_000);
    expect(metrics).toMatch(/rainops_model_reload_failures_total [1-9]/);
    const r = await post(`${url}/predict/`, EXAMPLE);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { model: { version: number } }).model.version).toBe(1);
    expect(server.stderr()).toMatch(/does not match its recorded sha256/);
  });
});
