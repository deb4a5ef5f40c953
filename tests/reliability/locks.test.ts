import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../../src/registry/index.js';
import type { LockInfo, Registry } from '../../src/registry/index.js';
import { cli, tempDir, WEATHER_CSV } from '../helpers/cli.js';
import { integrity, waitFor } from '../helpers/registry.js';
import { BIN } from '../helpers/spawn.js';

const MODEL = 'Rain_dataset_model_prod';
const LOCK = `model:${MODEL}`;
/** Short enough to wait out in a test, long enough for the stalls of a busy two-core machine (ETL stalls up to 3 s). */
const LEASE_SECONDS = '8';

/** unshare(1) needs root (or user namespaces); without it these tests cannot build their other host or their mounts. */
const canUnshare = spawnSync('unshare', ['--uts', '--mount', 'true']).status === 0;

interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `sh -c script` inside fresh namespaces; the script ends with `exec "$@"`, which runs the built binary with `args`. */
function spawnIn(unshare: string[], script: string, args: string[], env: Record<string, string>) {
  const sh = ['sh', '-c', script, 'sh', process.execPath, BIN, ...args];
  const [cmd, ...argv] = unshare.length > 0 ? ['unshare', ...unshare, ...sh] : sh;
  const child = spawn(cmd!, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Done>((res) => child.on('close', (code, signal) => res({ code, signal, stdout, stderr })));
  return { child, done };
}

/** Reads the registry the way an operator would, without ever writing (so polling never fails anyone's run). */
async function look<T>(home: string, fn: (r: Registry) => Promise<T>): Promise<T> {
  const r = await openRegistry(join(home, '.rainops/registry.db'), { readonly: true });
  try {
    return await fn(r);
  } finally {
    await r.close();
  }
}

describe.skipIf(!canUnshare)('locks and leases across hosts', () => {
  const home = tempDir();
  const env = { RAINOPS_HOME: join(home, '.rainops') };

  beforeAll(async () => {
    const grid = join(home, 'grid.json');
    writeFileSync(grid, JSON.stringify({ learningRate: [0.3], maxDepth: [4], nEstimators: [60] }));
    expect((await cli(['etl', '--source', WEATHER_CSV, '--until', '2014-12-31'], {}, home)).code).toBe(0);
    expect((await cli(['optimize', '--grid', grid, '--cv', '2', '--engine', 'wasm'], {}, home)).code).toBe(0);
  }, 300_000);

  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('a retrain killed with SIGKILL on another host blocks the next retrain only until its lease runs out', async () => {
    const victim = spawnIn(['--uts'], 'hostname other-host && exec "$@"', ['retrain', '--force', '--cv', '2'], {
      ...env,
      RAINOPS_LEASE_SECONDS: LEASE_SECONDS,
    });
    // killed while its trials train, as soon as the registry says so
    await waitFor(
      () =>
        look(home, async (r) =>
          (await r.listRuns({ status: 'RUNNING' })).some(
            (x) => x.name.startsWith('trial-') && x.hostname === 'other-host',
          ),
        ),
      120_000,
    );
    victim.child.kill('SIGKILL');
    expect((await victim.done).signal).toBe('SIGKILL');

    const [held] = await look(home, (r) => r.listLocks());
    expect(held).toMatchObject({ name: LOCK, hostname: 'other-host', stale: false });
    const runId = (held as LockInfo).runId!;
    expect(await look(home, (r) => r.getRun(runId))).toMatchObject({
      name: 'retrain',
      status: 'RUNNING',
      hostname: 'other-host',
    });
    // its pid means nothing here: before its lease ends the holder is taken at its word
    const early = await cli(['retrain', '--force', '--cv', '2'], {}, home);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(
      new RegExp(`lock '${LOCK}' is still held by run ${runId}, pid \\d+ on host other-host`),
    );

    const next = await cli(['retrain', '--force', '--cv', '2', '--wait', '120', '--json'], {}, home);
    expect(next.code).toBe(0);
    const out = JSON.parse(next.stdout);
    expect(out).toMatchObject({ trained: true });
    // it took the lock once the lease had run out, not before and not never
    const nextStart = await look(home, async (r) => (await r.getRun(out.run_id)).startTime);
    expect(Date.parse(nextStart)).toBeGreaterThanOrEqual(Date.parse((held as LockInfo).leaseExpiresAt!));

    const killed = await look(home, (r) => r.getRun(runId));
    expect(killed).toMatchObject({
      status: 'FAILED',
      error: expect.stringMatching(/^heartbeat stopped at \S+ on host other-host \(pid \d+\); the lease ran out at /),
    });
    expect(await look(home, (r) => r.listRuns({ status: 'RUNNING' }))).toEqual([]);
    expect(await look(home, (r) => r.listLocks())).toEqual([]);
    expect(integrity(home)).toBe('ok');
  }, 300_000);

  it('locks break frees a lock at once and records who broke it on the run', async () => {
    const victim = spawnIn(['--uts'], 'hostname other-host && exec "$@"', ['retrain', '--force', '--cv', '2'], {
      ...env,
      RAINOPS_LEASE_SECONDS: '600',
    });
    await waitFor(
      () => look(home, async (r) => (await r.listLocks()).some((l) => l.hostname === 'other-host' && l.runId !== null)),
      120_000,
    );
    victim.child.kill('SIGKILL');
    await victim.done;
    const runId = await look(home, async (r) => (await r.listLocks())[0]!.runId!);
    const broken = await cli(['locks', 'break', LOCK, '--reason', 'container killed', '--json'], {}, home);
    expect(broken.code).toBe(0);
    const out = JSON.parse(broken.stdout) as Record<string, unknown>;
    // either key style of --json
    expect([out.runId ?? out.run_id, out.runFailed ?? out.run_failed]).toEqual([runId, true]);
    expect(await look(home, (r) => r.getRun(runId))).toMatchObject({
      status: 'FAILED',
      error: expect.stringMatching(/^lock model:\S+ broken by operator on \S+: container killed$/),
    });
    const next = await cli(['retrain', '--force', '--cv', '2', '--json'], {}, home);
    expect(next.code).toBe(0);
  }, 300_000);

  describe('read-only commands', () => {
    const reads: string[][] = [
      ['runs', 'list', '--all', '--json'],
      ['models', 'show', MODEL, '--json'],
      ['datasets', 'list', '--json'],
      ['locks', 'list', '--json'],
    ];
    let expected: string[];

    beforeAll(async () => {
      expected = await Promise.all(reads.map(async (args) => (await cli(args, {}, home)).stdout));
    });

    /** A copy of the home's registry (closed, so with no -wal or -shm beside it): DIR/.rainops/registry.db and DIR/registry.db. */
    function copyHome(): string {
      const dir = tempDir();
      mkdirSync(join(dir, '.rainops'));
      copyFileSync(join(home, '.rainops/registry.db'), join(dir, '.rainops/registry.db'));
      copyFileSync(join(home, '.rainops/registry.db'), join(dir, 'registry.db'));
      return dir;
    }

    it('work on a registry in a read-only directory', async () => {
      const dir = copyHome();
      for (const [i, args] of reads.entries()) {
        const r = await spawnIn(['--mount'], 'mount --bind -o ro "$RO_DIR" "$RO_DIR" && exec "$@"', args, {
          RAINOPS_HOME: join(dir, '.rainops'),
          RO_DIR: join(dir, '.rainops'),
        }).done;
        expect(r.stderr).toContain('cannot be read in place (a read-only directory or a full disk)');
        expect([r.code, r.stdout]).toEqual([0, expected[i]]);
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it('work on a full disk', async () => {
      const dir = copyHome();
      const size = statSync(join(dir, '.rainops/registry.db')).size;
      const mb = Math.ceil(size / 1024 / 1024) + 2;
      // a tmpfs just big enough, the registry copied in, then every free block taken
      const script = `mount -t tmpfs -o size=${mb}m tmpfs "$FULL" && cp "$SRC" "$FULL/registry.db" && (dd if=/dev/zero of="$FULL/fill" bs=4k 2>/dev/null || true) && exec "$@"`;
      for (const [i, args] of reads.entries()) {
        const r = await spawnIn(['--mount'], script, args, {
          RAINOPS_HOME: join(dir, '.rainops'),
          FULL: join(dir, '.rainops'),
          SRC: join(dir, 'registry.db'),
        }).done;
        // no room for the -shm index either: the copy is read
        expect(r.stderr).toContain('cannot be read in place (a read-only directory or a full disk)');
        expect([r.code, r.stdout]).toEqual([0, expected[i]]);
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it('never wait for another process that holds the write lock', async () => {
      const writer = new Database(join(home, '.rainops/registry.db'));
      writer.exec("BEGIN IMMEDIATE; UPDATE runs SET name = name || ' (renaming)'");
      try {
        for (const [i, args] of reads.entries()) {
          const r = await spawnIn([], 'exec "$@"', args, env).done;
          expect([r.code, r.stdout, r.stderr]).toEqual([0, expected[i], '']);
        }
      } finally {
        writer.exec('ROLLBACK');
        await writer.close();
      }
    });
  });
});
