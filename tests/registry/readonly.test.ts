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
  it('reads everything and refuses to write', () => {
    const file = tempDbPath();
    const writer = open(file);
    const { runId, datasetId } = seedRunAndDataset(writer);
    writer.finishRun(runId, { status: 'FINISHED' });
    writer.close();

    const reader = open(file, { readonly: true });
    expect(reader.access).toBe('read-only');
    expect(reader.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    expect(reader.listRuns().map((r) => r.id)).toEqual([runId]);
    expect(reader.getDataset(datasetId).id).toBe(datasetId);
    expect(reader.listLocks()).toEqual([]);
    expect(() => reader.startRun({ experiment: 'e', name: 'x' })).toThrow(RainopsError);
    expect(() => reader.setTags(runId, { k: 'v' })).toThrow(
      `registry ${file} was opened read-only; this command cannot change it`,
    );
  });

  it('shows a run whose holder is gone as FAILED without writing it down', () => {
    const clock = fakeClock('2024-03-01T00:00:00.000Z');
    const file = tempDbPath();
    const gone = open(file, { hostname: 'container-9', pid: 3, now: clock.now, leaseMs: 10_000 });
    const { runId, datasetId } = seedRunAndDataset(gone);
    gone.linkRunDataset(runId, datasetId, 'input');
    gone.close();
    clock.advance(5_000);
    const live = open(file, { hostname: 'container-10', pid: 3, now: clock.now, leaseMs: 10_000 }).startRun({
      experiment: 'e',
      name: 'still going',
    });
    clock.advance(6_000);

    const reader = open(file, { readonly: true, hostname: 'here', isPidAlive: alive, now: clock.now });
    const error =
      'heartbeat stopped at 2024-03-01T00:00:00.000Z on host container-9 (pid 3); the lease ran out at 2024-03-01T00:00:10.000Z';
    const timesOut = reader.getRun(runId);
    expect(timesOut).toMatchObject({
      status: 'FAILED',
      error,
      endTime: '2024-03-01T00:00:11.000Z',
      durationMs: 11_000,
    });
    // started at 5 s, the other run holds until 15 s
    expect(reader.getRun(live.id).status).toBe('RUNNING');
    expect(reader.listRuns({ status: 'FAILED' }).map((r) => r.id)).toEqual([runId]);
    expect(reader.listRuns({ status: 'RUNNING' }).map((r) => r.id)).toEqual([live.id]);
    expect(reader.listRuns({ status: 'FINISHED' })).toEqual([]);
    expect(reader.runsForDataset(datasetId)).toMatchObject([{ id: runId, status: 'FAILED', error }]);
    expect(statusInFile(file, runId)).toBe('RUNNING');

    // a writer records what the reader only showed
    const writer = open(file, { hostname: 'here', isPidAlive: alive, now: clock.now });
    expect(statusInFile(file, runId)).toBe('FAILED');
    expect(writer.getRun(runId)).toMatchObject({ status: 'FAILED', error });
  });

  it('never waits for another connection that holds a write transaction', () => {
    const file = tempDbPath();
    open(file).getOrCreateExperiment('committed');
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
      blocked.close();
      const reader = open(file, { readonly: true });
      expect(reader.listExperiments().map((e) => e.name)).toEqual(['committed']);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
  });

  it('asks for a writing command when the schema is behind, and creates a file that does not exist', () => {
    const file = tempDbPath();
    const db = openDatabase(file);
    migrate(db, MIGRATIONS.slice(0, 1));
    db.close();
    expect(() => open(file, { readonly: true })).toThrow(
      `registry ${file} has schema version 1 and this rainops needs ${LATEST_SCHEMA_VERSION}; a read-only command cannot upgrade it, so run a command that writes (e.g. 'rainops etl') once, then try again`,
    );
    open(file).close();
    expect(open(file, { readonly: true }).access).toBe('read-only');

    const fresh = tempDbPath();
    const created = open(fresh, { readonly: true });
    expect(created.access).toBe('read-write');
    expect(fs.existsSync(fresh)).toBe(true);
  });

  it('reads a private copy when the file cannot be shared (here: its -shm index cannot be opened)', () => {
    const file = tempDbPath();
    const writer = open(file);
    writer.getOrCreateExperiment('kept');
    writer.close();
    fs.rmSync(`${file}-wal`, { force: true });
    fs.symlinkSync('/nonexistent/rainops/shm', `${file}-shm`);
    const reader = open(file, { readonly: true });
    expect(reader.access).toBe('snapshot');
    expect(reader.listExperiments().map((e) => e.name)).toEqual(['kept']);
    expect(reader.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
  });
});

describe('migration 2 (leases)', () => {
  it('gives runs and locks left by an older rainops an hour from the upgrade', () => {
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
    db.close();
    expect(row.heartbeat_at).toBe('2020-01-01T00:00:00.000Z');
    // SQLite's clock keeps milliseconds too, so the expiry lies between the two readings of ours, an hour on
    expect(Date.parse(row.lease_expires_at)).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(Date.parse(row.lease_expires_at)).toBeLessThanOrEqual(after + 3_600_000);

    const clock = fakeClock(new Date(Date.parse(row.lease_expires_at) - 1).toISOString());
    const later = open(file, { now: clock.now });
    expect(later.getRun('a'.repeat(32)).status).toBe('RUNNING');
    expect(later.listLocks()[0]).toMatchObject({ heartbeatAt: '2020-01-01T00:00:00.000Z', stale: false });
    clock.advance(1);
    expect(later.listLocks()[0]?.stale).toBe(true);
    expect(later.reapDeadRuns()).toBe(1);
  });
});

describe('a registry that ran a placeholder for step 2', () => {
  it('gets the leases step late, on its next writing open', () => {
    const file = tempDbPath();
    const db = openDatabase(file);
    migrate(db, [MIGRATIONS[0]!, { version: 2, name: 'reserved', sql: '' }, MIGRATIONS[2]!]);
    db.exec(`INSERT INTO experiments (id, name, created_at) VALUES (1, 'e', '2020-01-01T00:00:00.000Z');
      INSERT INTO runs (id, experiment_id, name, status, start_time, pid, hostname)
        VALUES ('${'b'.repeat(32)}', 1, 'old', 'RUNNING', '2020-01-01T00:00:00.000Z', 4, 'elsewhere');`);
    db.close();
    expect(() => open(file, { readonly: true })).toThrow(
      `registry ${file} lacks schema step 2 (leases); a read-only command cannot upgrade it, so run a command that writes (e.g. 'rainops etl') once, then try again`,
    );

    const again = openDatabase(file);
    expect(migrate(again).map((m) => m.name)).toEqual(['leases']);
    expect(migrate(again)).toEqual([]);
    again.close();
    const registry = open(file, { readonly: true });
    expect(registry.getRun('b'.repeat(32)).status).toBe('RUNNING');
    expect(registry.listLocks()).toEqual([]);
  });
});
