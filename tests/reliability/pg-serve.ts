import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';
import { cli, tempDir } from '../helpers/cli.js';
import { PG_URL, pgAdmin } from '../helpers/pg.js';
import { EXAMPLE, seriesValue, spawnServe, waitFor } from '../server/helpers.js';
import type { ServeProcess } from '../server/helpers.js';

export { PG_URL };

export interface PgHome {
  /** The registry database's URL (RAINOPS_REGISTRY). */
  registry: string;
  /** What every process of the test shares: the registry and the file store. */
  env: Record<string, string>;
  /** Working directory of the commands the test runs itself (etl, optimize, promote). */
  dir: string;
  /** `rainops serve --port 0 ...args` from the built binary, in a home of its own: only the registry and store are shared. */
  serve(args: string[], env?: Record<string, string>): ServeProcess;
  /** `rainops promote MODEL v` in-process; resolves when the alias has moved. */
  promote(version: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A fresh PostgreSQL database holding two versions of the model (v1 under prod_best), trained cheaply: etl to
 * the end of 2009, then two one-candidate searches with few trees; the bundles go to a file store every process shares.
 */
export async function pgHome(): Promise<PgHome> {
  const database = `rainops_rel_${randomBytes(6).toString('hex')}`;
  await pgAdmin(`CREATE DATABASE ${database}`);
  const url = new URL(PG_URL!);
  url.pathname = `/${database}`;
  const root = tempDir('rainops-pg-serve-');
  const store = join(root, 'store');
  mkdirSync(store);
  const env = { RAINOPS_REGISTRY: url.href, RAINOPS_STORE: pathToFileURL(store).href };
  const dir = join(root, 'trainer');
  mkdirSync(dir);
  const running: ServeProcess[] = [];
  const ok = async (argv: string[]) => {
    const r = await cli(argv, env, dir);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code, r.stderr).toBe(0);
  };
  await ok(['etl', '--until', '2009-12-31']);
  for (const v of [1, 2]) {
    const grid = join(dir, `grid${v}.json`);
    // Each version a little different, so that their answers differ.
    writeFileSync(grid, JSON.stringify({ learningRate: [0.3], maxDepth: [2 + v], nEstimators: [10 + 5 * v] }));
    const promote = v === 1 ? 'always' : 'never';
    await ok(['optimize', '--grid', grid, '--cv', '2', '--engine', 'wasm', '--jobs', '1', '--promote', promote]);
  }
  let replicas = 0;
  return {
    registry: url.href,
    env,
    dir,
    serve(args, extra = {}) {
      const home = join(root, `replica${++replicas}`);
      mkdirSync(home);
      const p = spawnServe(['--port', '0', ...args], home, { ...env, ...extra }, { built: true });
      running.push(p);
      return p;
    },
    promote: (version) => ok(['promote', 'Rain_dataset_model_prod', String(version), '--alias', 'prod_best']),
    async close() {
      for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await Promise.all(running.map((p) => p.exited));
      await pgAdmin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    },
  };
}

/** One answer to POST /predict, as a client saw it. */
export interface Answer {
  sentAt: number;
  doneAt: number;
  version: number;
}

export interface PredictLoad {
  sent(): number;
  answers: Answer[];
  /** Requests that got anything but a 200 with a prediction, or no answer at all. */
  failures: string[];
  stop(): Promise<void>;
}

const body = JSON.stringify(EXAMPLE);

/** `concurrency` clients sending POST /predict one after another (keep-alive), recording which version answered. */
export function predictLoad(url: string, concurrency: number): PredictLoad {
  const answers: Answer[] = [];
  const failures: string[] = [];
  let sent = 0;
  let stopping = false;
  const client = async () => {
    while (!stopping) {
      const sentAt = Date.now();
      sent++;
      try {
        const res = await fetch(`${url}/predict`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
        });
        const text = await res.text();
        const version =
          res.status === 200 ? (JSON.parse(text) as { model?: { version?: unknown } }).model?.version : null;
        if (typeof version === 'number') answers.push({ sentAt, doneAt: Date.now(), version });
        else failures.push(`${res.status}: ${text.slice(0, 200)}`);
      } catch (err) {
        const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
        failures.push(`${err instanceof Error ? err.message : String(err)}${cause}`);
      }
    }
  };
  const clients = Array.from({ length: concurrency }, client);
  return {
    sent: () => sent,
    answers,
    failures,
    stop: async () => {
      stopping = true;
      await Promise.all(clients);
    },
  };
}

/**
 * When the load's answers settled on `version`: the first answer from it after the last from any other (a replica
 * with --workers swaps in each worker on its own). Checks that more answers came after it, all from `version`.
 */
/** How many of the latest answers came from `version`, one after another. */
export function trailing(load: PredictLoad, version: number): number {
  let n = 0;
  while (n < load.answers.length && load.answers[load.answers.length - 1 - n]!.version === version) n++;
  return n;
}

export function settledOn(load: PredictLoad, version: number): number {
  let lastOther = -1;
  for (const [i, a] of load.answers.entries()) if (a.version !== version) lastOther = i;
  const after = load.answers.length - lastOther - 1;
  expect(after, `answers from v${version} after the last from another version`).toBeGreaterThanOrEqual(10);
  return load.answers[lastOther + 1]!.doneAt;
}

/** /ready and rainops_registry_up as a monitor saw them at one moment. */
export interface Observed {
  at: number;
  /** /ready's status (0: no answer). */
  ready: number;
  reason: string;
  up: number;
}

/** Looks at /ready and /metrics every 50 ms until stopped. */
export function observe(url: string): { seen: Observed[]; stop(): Promise<void> } {
  const seen: Observed[] = [];
  let watching = true;
  const done = (async () => {
    while (watching) {
      try {
        const ready = await fetch(`${url}/ready`);
        const reason = ((await ready.json()) as { reason?: string }).reason ?? '';
        const up = seriesValue(await (await fetch(`${url}/metrics`)).text(), 'rainops_registry_up');
        seen.push({ at: Date.now(), ready: ready.status, reason, up });
      } catch (err) {
        seen.push({ at: Date.now(), ready: 0, reason: String(err), up: Number.NaN });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    seen,
    stop: () => {
      watching = false;
      return done;
    },
  };
}

/** The values in order with repeats dropped: [1, 1, 0, 0, 1] is [1, 0, 1]. */
export const changes = <T>(values: T[]): T[] => values.filter((v, k) => k === 0 || v !== values[k - 1]);

/**
 * Moves prod_best to v2 under load after an outage from `from` to `to`, waits until every load has settled on v2,
 * stops the loads and monitors, and logs: how long the swaps took and how many predictions were answered during it.
 */
export async function promoteAfterOutage(
  home: PgHome,
  loads: PredictLoad[],
  monitors: Array<{ stop(): Promise<void> }>,
  outage: { from: number; to: number; what: string },
): Promise<{ swaps: number[]; during: number[] }> {
  const promoteStart = Date.now();
  await home.promote(2);
  const promoted = Date.now();
  await waitFor(() => loads.every((l) => trailing(l, 2) >= 20), 10_000);
  await Promise.all([...loads.map((l) => l.stop()), ...monitors.map((m) => m.stop())]);
  const swaps = loads.map((l) => settledOn(l, 2) - promoteStart);
  const during = loads.map((l) => l.answers.filter((a) => a.sentAt >= outage.from && a.doneAt <= outage.to).length);
  console.log(
    `after the ${outage.what}: promote took ${promoted - promoteStart} ms, answering v2 only from ${swaps.join(' and ')} ms after it started; predictions sent ${loads.map((l) => l.sent()).join(' + ')} (${during.join(' + ')} during the ${outage.what}), failed ${loads.map((l) => l.failures.length).join(' + ')}`,
  );
  return { swaps, during };
}
