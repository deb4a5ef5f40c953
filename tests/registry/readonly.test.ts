import fs from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { RainopsError } from '../../src/core/errors.js';
import { openDatabase } from '../../src/registry/db.js';
import { LATEST_SCHEMA_VERSION } from '../../src/registry/index.js';
import { migrate } from '../../src/registry/migrate.js';
import { MIGRATIONS } from '../../src/registry/migrations/index.js';
import { fakeClock, open, seedRunAndDataset, tempDbPath } from './helpers.js';

const alive = () => true;

function statusInFile(file: string, runId: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT status FROM runs WHERE id = ?').get(runId) as { status: string }).status;
  } finally {
    db.close();
  }
}

describe('a read-only registry', () => {
  it('reads everything and refuses to write', async () => {
    const file = tempDbPath();
    const writer = await open(file);
    const { runId, datasetId } = await seedRunAndDataset(writer);
    await writer.finishRun(runId, { status: 'FINISHED' });
    await writer.close();

    const reader = await open(file, { readonly: true });
    expect(reader.access).toBe('read-only');
    expect(await reader.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    expect((await reader.listRuns()).map((r) => r.id)).toEqual([runId]);
    expect((await reader.getDataset(datasetId)).id).toBe(datasetId);
    expect(await reader.listLocks()).toEqual([]);
    await expect(reader.startRun({ experiment: 'e', name: 'x' })).rejects.toThrow(RainopsError);
    await expect(reader.setTags(runId, { k: 'v' })).rejects.toThrow(
      `registry ${file} was opened read-only; this command cannot change it`,
    );
  });

  it('shows a run whose holder is gone as FAILED without writing it down', async () => {
    const clock = fakeClock('2024-03-01T00:00:00.000Z');
    const file = tempDbPath();
    const gone = await open(file, { hostname: 'container-9', pid: 3, now: clock.now, leaseMs: 10_000 });
    const { runId, datasetId } = await seedRunAndDataset(gone);
    await gone.linkRunDataset(runId, datasetId, 'input');
    await gone.close();
    clock.advance(5_000);
    const live = await (
      await open(file, { hostname: 'container-10', pid: 3, now: clock.now, leaseMs: 10_000 })
    ).startRun({
      experiment: 'e',
      name: 'still going',
    });
    clock.advance(6_000);

    const reader = await open(file, { readonly: true, hostname: 'here', isPidAlive: alive, now: clock.now });
    const error =
      'heartbeat stopped at 2024-03-01T00:00:00.000Z on host container-9 (pid 3); the lease ran out at 2024-03-01T00:00:10.000Z';
    const timesOut = await reader.getRun(runId);
    expect(timesOut).toMatchObject({
      status: 'FAILED',
      error,
      endTime: '2024-03-01T00:00:11.000Z',
      durationMs: 11_000,
    });
    // started at 5 s, the other run holds until 15 s
    expect((await reader.getRun(live.id)).status).toBe('RUNNING');
    expect((await reader.listRuns({ status: 'FAILED' })).map((r) => r.id)).toEqual([runId]);
    expect((await reader.listRuns({ status: 'RUNNING' })).map((r) => r.id)).toEqual([live.id]);
    expect(await reader.listRuns({ status: 'FINISHED' })).toEqual([]);
    expect(await reader.runsForDataset(datasetId)).toMatchObject([{ id: runId, status: 'FAILED', error }]);
    expect(statusInFile(file, runId)).toBe('RUNNING');

    // a writer records what the reader only showed
    const writer = await open(file, { hostname: 'here', isPidAlive: alive, now: clock.now });
    expect(statusInFile(file, runId)).toBe('FAILED');
    expect(await writer.getRun(runId)).toMatchObject({ status: 'FAILED', error });
  });

  it('never waits for another connection that holds a write transaction', async () => {
    const file = tempDbPath();
    await (await open(file)).getOrCreateExperiment('committed');
    const other = new Database(file);
    other.pragma('busy_timeout = 0');
    other.exec(
      "BEGIN IMMEDIATE; INSERT INTO experiments (name, created_at) VALUES ('pending', '2024-01-01T00:00:00.000Z')",
    );
    try {
      // with the write lock taken, a writer could not even begin: shown first so the reader's success means something
      const blocked = new Database(file);
      blocked.pragma('busy_timeout = 0');
      expect(() => blocked.exec('BEGIN IMMEDIATE')).toThrow(/database is locked/);
      await blocked.close();
      const reader = await open(file, { readonly: true });
      expect((await reader.listExperiments()).map((e) => e.name)).toEqual(['committed']);
    } finally {
      other.exec('ROLLBACK');
      await other.close();
    }
  });

  it('asks for a writing command when the schema is behind, and creates a file that does not exist', async () => {
    const file = tempDbPath();
    const db = openDatabase(file);
    migrate(db, MIGRATIONS.slice(0, 1));
    db.close();
    await expect(open(file, { readonly: true })).rejects.toThrow(
      `registry ${file} has schema version 1 and this rainops needs ${LATEST_SCHEMA_VERSION}; a read-only command cannot upgrade it, so run a command that writes (e.g. 'rainops etl') once, then try again`,
    );
    await (await open(file)).close();
    expect((await open(file, { readonly: true })).access).toBe('read-only');

    const fresh = tempDbPath();
    const created = await open(fresh, { readonly: true });
    expect(created.access).toBe('read-write');
    expect(fs.existsSync(fresh)).toBe(true);
  });

  it('reads a private copy when the file cannot be shared (here: its -shm index cannot be opened)', async () => {
    const file = tempDbPath();
    const writer = await open(file);
    await writer.getOrCreateExperiment('kept');
    await writer.close();
    fs.rmSync(`${file}-wal`, { force: true });
    fs.symlinkSync('/nonexistent/rainops/shm', `${file}-shm`);
    const reader = await open(file, { readonly: true });
    expect(reader.access).toBe('snapshot');
    expect((await reader.listExperiments()).map((e) => e.name)).toEqual(['kept']);
    expect(await reader.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
  });
});

describe('migration 2 (leases)', () => {
  it('gives runs and locks left by an older rainops an hour from the upgrade', async () => {
    const file = tempDbPath();
    const db = openDatabase(file);
    migrate(db, MIGRATIONS.slice(0, 1));
    db.exec(`INSERT INTO experiments (id, name, created_at) VALUES (1, 'e', '2020-01-01T00:00:00.000Z');
      INSERT INTO runs (id, experiment_id, name, status, start_time, pid, hostname)
        VALUES ('${'a'.repeat(32)}', 1, 'old', 'RUNNING', '2020-01-01T00:00:00.000Z', 4, 'elsewhere');
      INSERT INTO locks (name, owner_pid, hostname, acquired_at, token) VALUES ('model:m', 4, 'elsewhere', '2020-01-01T00:00:00.000Z', 't');`);
    const before = Date.now();
    migrate(db);
    const after = Date.now();
    const row = db.prepare('SELECT heartbeat_at, lease_expires_at FROM runs').get() as {
      heartbeat_at: string;
      lease_expires_at: string;
    };
    const lock = db.prepare('SELECT lease_expires_at FROM locks').get() as { lease_expires_at: string };
    db.close();
    expect(row.heartbeat_at).toBe('2020-01-01T00:00:00.000Z');
    // SQLite's clock keeps milliseconds too, so each expiry lies between the two readings of ours, an hour on
    for (const expires of [row.lease_expires_at, lock.lease_expires_at]) {
      expect(Date.parse(expires)).toBeGreaterThanOrEqual(before + 3_600_000);
      expect(Date.parse(expires)).toBeLessThanOrEqual(after + 3_600_000);
    }
    // The two rows are updated by two statements, whose 'now' can differ by a millisecond or more on a busy machine.
    const runExpiry = Date.parse(row.lease_expires_at);
    const lockExpiry = Date.parse(lock.lease_expires_at);
    expect(lockExpiry).toBeGreaterThanOrEqual(runExpiry);

    const clock = fakeClock(new Date(runExpiry - 1).toISOString());
    const later = await open(file, { now: clock.now });
    expect((await later.getRun('a'.repeat(32))).status).toBe('RUNNING');
    clock.advance(lockExpiry - runExpiry);
    expect((await later.listLocks())[0]).toMatchObject({ heartbeatAt: '2020-01-01T00:00:00.000Z', stale: false });
    clock.advance(1);
    expect((await later.listLocks())[0]?.stale).toBe(true);
    expect(await later.reapDeadRuns()).toBe(1);
  });
});

describe('a registry that ran a placeholder for step 2', () => {
  it('gets the leases step late, on its next writing open', async () => {
    const file = tempDbPath();
    const db = openDatabase(file);
    migrate(db, [MIGRATIONS[0]!, { version: 2, name: 'reserved', sql: '', postgres: '' }, ...MIGRATIONS.slice(2)]);
    db.exec(`INSERT INTO experiments (id, name, created_at) VALUES (1, 'e', '2020-01-01T00:00:00.000Z');
      INSERT INTO runs (id, experiment_id, name, status, start_time, pid, hostname)
        VALUES ('${'b'.repeat(32)}', 1, 'old', 'RUNNING', '2020-01-01T00:00:00.000Z', 4, 'elsewhere');`);
    db.close();
    await expect(open(file, { readonly: true })).rejects.toThrow(
      `registry ${file} lacks schema step 2 (leases); a read-only command cannot upgrade it, so run a command that writes (e.g. 'rainops etl') once, then try again`,
    );

    const again = openDatabase(file);
    expect(migrate(again).map((m) => m.name)).toEqual(['leases']);
    expect(migrate(again)).toEqual([]);
    await again.close();
    const registry = await open(file, { readonly: true });
    expect((await registry.getRun('b'.repeat(32))).status).toBe('RUNNING');
    expect(await registry.listLocks()).toEqual([]);
  });
});
