import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { ConflictError, NotFoundError, UsageError } from '../../src/core/errors.js';
import { isPidAlive } from '../../src/registry/process.js';
import { SHA_A, fakeClock, open, seedRunAndDataset } from './helpers.js';
import { describeBackends } from './backends.js';

describeBackends('runs', (backend) => {
  it('start RUNNING with this process identity, in an experiment created on demand', async () => {
    const clock = fakeClock();
    const registry = await open(await backend.fresh(), { now: clock.now, pid: 4242, hostname: 'box' });
    const run = await registry.startRun({ experiment: 'Rain Dataset', name: 'optimize', tags: { trigger: 'cron' } });
    expect(run.id).toMatch(/^[0-9a-f]{32}$/);
    expect(run).toMatchObject({
      experiment: 'Rain Dataset',
      name: 'optimize',
      parentRunId: null,
      status: 'RUNNING',
      startTime: '2024-03-01T00:00:00.000Z',
      endTime: null,
      durationMs: null,
      pid: 4242,
      hostname: 'box',
      error: null,
    });
    expect((await registry.getRun(run.id)).tags).toEqual({ trigger: 'cron' });
    expect(await registry.listExperiments()).toEqual([
      { id: run.experimentId, name: 'Rain Dataset', createdAt: '2024-03-01T00:00:00.000Z', runCount: 1 },
    ]);
    const other = await registry.startRun({ experiment: 'Rain Dataset', name: 'again' });
    expect(other.experimentId).toBe(run.experimentId);
    expect(other.id).not.toBe(run.id);
  });

  it('keep params as text, accept the same value twice and refuse a changed one', async () => {
    const registry = await open(await backend.fresh());
    const { id } = await registry.startRun({ experiment: 'e', name: 'r' });
    await registry.logParams(id, { max_depth: 6, eta: 0.3, booster: 'gbtree', early_stop: true, missing: null });
    await registry.logParams(id, { max_depth: 6 });
    expect((await registry.getRun(id)).params).toEqual({
      max_depth: '6',
      eta: '0.3',
      booster: 'gbtree',
      early_stop: 'true',
      missing: 'null',
    });
    await expect(registry.logParams(id, { max_depth: 8 })).rejects.toThrow(ConflictError);
    await expect(registry.logParams(id, { max_depth: 8 })).rejects.toThrow(/param max_depth of run .* is already '6'/);
    await expect(registry.logParams(id, { 'bad key': 1 })).rejects.toThrow(UsageError);
    expect((await registry.getRun(id)).params['max_depth']).toBe('6');
  });

  it('keep every metric point and report the latest step as the value', async () => {
    const clock = fakeClock();
    const registry = await open(await backend.fresh(), { now: clock.now });
    const { id } = await registry.startRun({ experiment: 'e', name: 'r' });
    await registry.logMetric(id, 'logloss', 0.6, 1);
    clock.advance(10);
    await registry.logMetric(id, 'logloss', 0.4, 2);
    clock.advance(10);
    await registry.logMetric(id, 'logloss', 0.9, 0); // logged late, but an earlier step
    await registry.logMetrics(id, { f1: 0.69, roc_auc: 0.907 });
    await registry.logMetric(id, 'undefined_ratio', Number.NaN);

    const detail = await registry.getRun(id);
    expect(detail.metrics['logloss']).toBe(0.4);
    expect(detail.metrics['f1']).toBe(0.69);
    expect(detail.metrics['roc_auc']).toBe(0.907);
    expect(detail.metrics['undefined_ratio']).toBeNaN();
    expect(detail.metricHistory['logloss']).toEqual([
      { value: 0.9, step: 0, timestamp: '2024-03-01T00:00:00.020Z' },
      { value: 0.6, step: 1, timestamp: '2024-03-01T00:00:00.000Z' },
      { value: 0.4, step: 2, timestamp: '2024-03-01T00:00:00.010Z' },
    ]);
    await expect(registry.logMetric(id, 'f1', 0.5, 1.5)).rejects.toThrow(UsageError);
  });

  it('store metrics append-only', async () => {
    const file = await backend.fresh();
    const registry = await open(file);
    const { id } = await registry.startRun({ experiment: 'e', name: 'r' });
    await registry.logMetric(id, 'f1', 0.5);
    await expect(backend.exec(file, 'UPDATE metrics SET value = 1')).rejects.toThrow(/append-only/);
    await expect(backend.exec(file, 'DELETE FROM metrics')).rejects.toThrow(/append-only/);
    expect((await registry.getRun(id)).metrics).toEqual({ f1: 0.5 });
  });

  it('finish with end time, duration and resource use, once', async () => {
    const clock = fakeClock();
    const registry = await open(await backend.fresh(), { now: clock.now });
    const { id } = await registry.startRun({ experiment: 'e', name: 'r' });
    clock.advance(1500);
    const done = await registry.finishRun(id, { status: 'FINISHED', peakRssBytes: 123_456_789, cpuTimeMs: 2345.6 });
    expect(done).toMatchObject({
      status: 'FINISHED',
      endTime: '2024-03-01T00:00:01.500Z',
      durationMs: 1500,
      peakRssBytes: 123_456_789,
      cpuTimeMs: 2346,
      error: null,
    });
    expect((await registry.getRun(id)).durationMs).toBe(1500);
    await expect(registry.finishRun(id, { status: 'FAILED' })).rejects.toThrow(ConflictError);
    await expect(registry.finishRun(id, { status: 'FAILED' })).rejects.toThrow(/already FINISHED; only a RUNNING run/);
  });

  it('record why a run failed', async () => {
    const registry = await open(await backend.fresh());
    const { id } = await registry.startRun({ experiment: 'e', name: 'r' });
    await registry.finishRun(id, { status: 'FAILED', error: 'out of memory' });
    expect(await registry.getRun(id)).toMatchObject({ status: 'FAILED', error: 'out of memory' });
  });

  it('collect artifacts, data sets and children in the detail', async () => {
    const registry = await open(await backend.fresh());
    const { runId, datasetId } = await seedRunAndDataset(registry);
    await registry.logArtifact(runId, { path: 'report.json', size: 12, sha256: SHA_A, uri: 'file:///s/report.json' });
    await registry.logArtifact(runId, { path: 'report.json', size: 13, sha256: SHA_A, uri: 'file:///s/report2.json' });
    await registry.linkRunDataset(runId, datasetId, 'input');
    await registry.linkRunDataset(runId, datasetId, 'input');
    await registry.startRun({ experiment: 'Rain Dataset', name: 'trial 1', parentRunId: runId });
    await registry.startRun({ experiment: 'Rain Dataset', name: 'trial 2', parentRunId: runId });

    const detail = await registry.getRun(runId);
    expect(detail.artifacts).toHaveLength(1);
    expect(detail.artifacts[0]).toMatchObject({ path: 'report.json', size: 13, uri: 'file:///s/report2.json' });
    expect(detail.datasets.map((d) => [d.id, d.role])).toEqual([[datasetId, 'input']]);
    expect(detail.childrenCount).toBe(2);
    await expect(
      registry.logArtifact(runId, { path: 'x', size: 1, sha256: 'not-a-hash', uri: 'file:///x' }),
    ).rejects.toThrow(/not a sha256/);
  });

  it('refuse to log to, or start a child of, a run that does not exist', async () => {
    const registry = await open(await backend.fresh());
    const missing = '0'.repeat(32);
    await expect(registry.logMetric(missing, 'f1', 1)).rejects.toThrow(NotFoundError);
    await expect(registry.logParams(missing, { a: 1 })).rejects.toThrow(
      `run ${missing} not found; list runs with 'rainops runs list'`,
    );
    await expect(registry.startRun({ experiment: 'e', name: 'child', parentRunId: missing })).rejects.toThrow(
      NotFoundError,
    );
    expect(await registry.listRuns()).toEqual([]);
  });
});

describeBackends('getRun by id prefix', (backend) => {
  it('finds a unique prefix, and says clearly when a prefix is ambiguous or matches nothing', async () => {
    const registry = await open(await backend.fresh());
    // 17 random hex ids: at least two share their first digit
    const ids: string[] = [];
    for (let i = 0; i < 17; i++) ids.push((await registry.startRun({ experiment: 'e', name: `r${i}` })).id);
    const first = ids[0] as string;
    const unique = (id: string) => {
      for (let n = 1; n <= id.length; n++) {
        const prefix = id.slice(0, n);
        if (ids.filter((other) => other.startsWith(prefix)).length === 1) return prefix;
      }
      throw new Error('ids are not unique');
    };
    expect((await registry.getRun(unique(first))).id).toBe(first);
    expect((await registry.getRun(unique(first).toUpperCase())).id).toBe(first);
    expect((await registry.getRun(first)).id).toBe(first);

    const shared = ids.map((id) => id[0]).find((c, i, all) => all.indexOf(c) !== i) as string;
    await expect(registry.getRun(shared)).rejects.toThrow(UsageError);
    await expect(registry.getRun(shared)).rejects.toThrow(
      new RegExp(`run id prefix '${shared}' matches \\d+ runs .*; give more characters`),
    );

    const absent = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f']
      .map((c) => `${c}${c}${c}${c}${c}${c}`)
      .find((p) => !ids.some((id) => id.startsWith(p))) as string;
    await expect(registry.getRun(absent)).rejects.toThrow(NotFoundError);
    await expect(registry.getRun(absent)).rejects.toThrow(
      `run ${absent} not found; list runs with 'rainops runs list'`,
    );
    await expect(registry.getRun('')).rejects.toThrow(UsageError);
  });
});

describeBackends('reapDeadRuns', (backend) => {
  it('fails RUNNING runs of dead processes on this host only', async () => {
    const clock = fakeClock();
    const file = await backend.fresh();
    const alive = new Set<number>([100, 200, 300, 400]);
    const check = (pid: number) => alive.has(pid);
    const a = await open(file, { pid: 100, hostname: 'h1', now: clock.now, isPidAlive: check });
    const b = await open(file, { pid: 200, hostname: 'h1', now: clock.now, isPidAlive: check });
    const c = await open(file, { pid: 300, hostname: 'h2', now: clock.now, isPidAlive: check });
    const d = await open(file, { pid: 400, hostname: 'h1', now: clock.now, isPidAlive: check });
    const runA = (await a.startRun({ experiment: 'e', name: 'crashes' })).id;
    const runB = (await b.startRun({ experiment: 'e', name: 'still going' })).id;
    const runC = (await c.startRun({ experiment: 'e', name: 'other host' })).id;
    const runD = (await d.startRun({ experiment: 'e', name: 'finished' })).id;
    await d.finishRun(runD, { status: 'FINISHED' });

    alive.delete(100);
    alive.delete(300);
    alive.delete(400);
    clock.advance(2000);
    expect(await b.reapDeadRuns()).toBe(1);
    expect(await b.getRun(runA)).toMatchObject({
      status: 'FAILED',
      error: 'process 100 exited without finishing the run',
      durationMs: 2000,
    });
    expect((await b.getRun(runB)).status).toBe('RUNNING');
    expect((await b.getRun(runC)).status).toBe('RUNNING'); // another host's pids mean nothing here
    expect((await b.getRun(runD)).status).toBe('FINISHED');
    expect(await b.reapDeadRuns()).toBe(0);
  });

  it('never fails the runs of its own process, and runs when a registry opens', async () => {
    const file = await backend.fresh();
    const dead = () => false;
    const mine = await open(file, { pid: 500, hostname: 'h', isPidAlive: dead });
    const run = (await mine.startRun({ experiment: 'e', name: 'mine' })).id;
    expect(await mine.reapDeadRuns()).toBe(0);
    expect((await mine.getRun(run)).status).toBe('RUNNING');

    const later = await open(file, { pid: 501, hostname: 'h', isPidAlive: dead });
    expect(await later.getRun(run)).toMatchObject({
      status: 'FAILED',
      error: 'process 500 exited without finishing the run',
    });
  });

  it('uses a default liveness check that sees this process and not an exited one', async () => {
    expect(isPidAlive(process.pid)).toBe(true);
    const child = spawnSync(process.execPath, ['-e', '0']);
    expect(typeof child.pid).toBe('number');
    expect(isPidAlive(child.pid as number)).toBe(false);
    expect(isPidAlive(0)).toBe(false);
    expect(isPidAlive(-1)).toBe(false);
  });
});
