import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../../src/registry/index.js';
import { cli, tempDir, WEATHER_CSV, weatherCsvText } from '../helpers/cli.js';

const SHIFTED = ['Humidity3pm', 'Pressure9am', 'WindGustSpeed'];

/** Every `every`-th line of weatherAUS from `offset` on, with the header. */
function sampleCsv(path: string, every: number, offset: number): void {
  const lines = weatherCsvText().split('\n');
  writeFileSync(path, `${lines.filter((l, i) => i === 0 || (i % every === offset && l !== '')).join('\n')}\n`);
}

/** A data set's test rows as one weatherAUS CSV (RainTomorrow included), with `change` applied to each row. */
function testRowsCsv(home: string, datasetId: string, change: (row: Record<string, string>) => void): string {
  const base = join(home, '.rainops/store/datasets', datasetId, 'preprocessed');
  const x = readFileSync(join(base, 'X_test.csv'), 'utf8').trim().split('\n');
  const y = readFileSync(join(base, 'y_test.csv'), 'utf8').trim().split('\n');
  const header = x[0]!.split(',');
  const out = [`${header.join(',')},RainTomorrow`];
  for (let i = 1; i < x.length; i++) {
    const cells = x[i]!.split(',');
    const row = Object.fromEntries(header.map((h, j) => [h, cells[j]!]));
    change(row);
    out.push(`${header.map((h) => row[h]).join(',')},${y[i]}`);
  }
  return `${out.join('\n')}\n`;
}

const shift = (row: Record<string, string>, col: string, f: (v: number) => number) => {
  if (row[col] !== 'NA') row[col] = String(Math.round(f(Number(row[col])) * 10) / 10);
};

async function trainedHome(etlArgs: string[]): Promise<{ dir: string; datasetId: string }> {
  const dir = tempDir('rainops-monitor-');
  const csv = join(dir, 'small.csv');
  sampleCsv(csv, 24, 0);
  const etl = await cli(['etl', '--source', csv, ...etlArgs, '--json'], {}, dir);
  expect(etl.code).toBe(0);
  const grid = join(dir, 'grid.json');
  writeFileSync(grid, JSON.stringify({ learningRate: [0.1], maxDepth: [4], nEstimators: [80] }));
  const opt = await cli(['optimize', '--grid', grid, '--cv', '2', '--engine', 'wasm', '--jobs', '1'], {}, dir);
  expect(opt.code).toBe(0);
  return { dir, datasetId: JSON.parse(etl.stdout).dataset_id };
}

describe('rainops monitor', () => {
  let home: { dir: string; datasetId: string };
  beforeAll(async () => {
    home = await trainedHome([]);
  }, 180_000);

  it('flags exactly the shifted inputs of a copy of the test rows and exits 3', async () => {
    const path = join(home.dir, 'shifted.csv');
    writeFileSync(
      path,
      testRowsCsv(home.dir, home.datasetId, (row) => {
        shift(row, 'Humidity3pm', (v) => v + 25);
        shift(row, 'Pressure9am', (v) => v + 15);
        shift(row, 'WindGustSpeed', (v) => v * 1.6);
      }),
    );
    const r = await cli(['monitor', '--against', path, '--json'], {}, home.dir);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/monitor: 3 of 21 inputs drifted \(WindGustSpeed, Humidity3pm, Pressure9am\)/);
    const out = JSON.parse(r.stdout);
    expect(out.drifted).toBe(true);
    const drifted = out.features
      .filter((f: { drifted: boolean }) => f.drifted)
      .map((f: { feature: string }) => f.feature);
    expect(drifted.sort()).toEqual([...SHIFTED].sort());
    for (const f of out.features) {
      expect(Object.keys(f)).toEqual(expect.arrayContaining(['feature', 'psi', 'drifted', 'p_value', 'verdict']));
      if (SHIFTED.includes(f.feature)) expect(f.psi).toBeGreaterThan(0.2);
      else expect(f.psi).toBeLessThan(0.1);
    }
    expect(out.current).toMatchObject({ kind: 'file', labelled: out.current.rows });
    // The run holds every figure and the report.
    const registry = await openRegistry(join(home.dir, '.rainops/registry.db'));
    try {
      const run = await registry.getRun(out.run_id);
      expect(run.name).toBe('monitor');
      expect(run.status).toBe('FINISHED');
      expect(run.metrics['psi.Humidity3pm']).toBeCloseTo(
        out.features.find((f: { feature: string }) => f.feature === 'Humidity3pm').psi,
        10,
      );
      expect(run.metrics.drifted).toBe(1);
      expect(run.metricHistory.month_f1?.length).toBe(out.quality.months.length);
      const paths = run.artifacts.map((a) => a.path);
      expect(paths).toEqual(
        expect.arrayContaining(['monitor/report.html', 'monitor/psi.svg', 'monitor/features/Humidity3pm.svg']),
      );
    } finally {
      await registry.close();
    }
  });

  it('finds nothing in a random sample of the same data and exits 0', async () => {
    const path = join(home.dir, 'same.csv');
    sampleCsv(path, 48, 7);
    const r = await cli(['monitor', '--against', path, '--json'], {}, home.dir);
    const out = JSON.parse(r.stdout);
    expect(out.features.filter((f: { drifted: boolean }) => f.drifted)).toEqual([]);
    expect(out.prediction.drifted).toBe(false);
    expect(out.quality.decayed).toBe(false);
    expect(r.code).toBe(0);
    expect(out.drifted).toBe(false);
  });

  it('estimates F1 on the newest labelled data set within 0.02 of the real F1', async () => {
    const etl = await cli(['etl', '--source', WEATHER_CSV, '--json'], {}, home.dir);
    expect(etl.code).toBe(0);
    const r = await cli(['monitor', '--json'], {}, home.dir);
    expect([0, 3]).toContain(r.code);
    const out = JSON.parse(r.stdout);
    expect(out.current).toMatchObject({ kind: 'dataset', source: JSON.parse(etl.stdout).dataset_id });
    expect(out.current.rows).toBeGreaterThan(25_000);
    expect(out.quality.labelled).toBe(true);
    expect(Math.abs(out.quality.overall.estimated_f1 - out.quality.overall.f1)).toBeLessThan(0.02);
  });

  it('bad usage exits 2 and a missing data set exits 1', async () => {
    expect((await cli(['monitor', '--psi', '-1'], {}, home.dir)).code).toBe(2);
    expect((await cli(['monitor', '--since', '2020-13-01'], {}, home.dir)).code).toBe(2);
    const r = await cli(['monitor', '--against', 'no-such-dataset'], {}, home.dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/data set no-such-dataset not found/);
    const file = await cli(['monitor', '--against', 'missing.csv'], {}, home.dir);
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(
      /^rainops: monitor: --against \S+missing\.csv does not exist; pass a weatherAUS-format CSV/m,
    );
  });
});

describe('rainops monitor on a time split', () => {
  it('has one quality row per month of the test period', async () => {
    const home = await trainedHome(['--split', 'time']);
    const r = await cli(['monitor', '--json'], {}, home.dir);
    expect([0, 3]).toContain(r.code);
    const out = JSON.parse(r.stdout);
    const x = readFileSync(join(home.dir, '.rainops/store/datasets', home.datasetId, 'preprocessed/X_test.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1);
    const months = [...new Set(x.map((l) => l.slice(0, 7)))].sort();
    expect(out.quality.months.map((m: { month: string }) => m.month)).toEqual(months);
    expect(out.quality.months.reduce((s: number, m: { rows: number }) => s + m.rows, 0)).toBe(x.length);
    for (const m of out.quality.months) {
      expect(m.labelled).toBe(m.rows);
      expect(m.f1).toBeGreaterThanOrEqual(0);
    }
  }, 180_000);
});

describe('pipeline --retrain-when drift', () => {
  it('does not train on unchanged data; trains on shifted data and records why', async () => {
    const home = await trainedHome([]);
    const versions = async () => {
      const registry = await openRegistry(join(home.dir, '.rainops/registry.db'));
      try {
        return (await registry.listModelVersions('Rain_dataset_model_prod')).map((v) => v.version);
      } finally {
        await registry.close();
      }
    };
    const small = join(home.dir, 'small.csv');
    const same = await cli(
      ['pipeline', '--source', small, '--retrain-when', 'drift', '--cv', '2', '--json'],
      {},
      home.dir,
    );
    expect(same.code).toBe(0);
    const skipped = JSON.parse(same.stdout);
    expect(skipped).toMatchObject({
      action: 'skip',
      decision: { retrain_when: 'drift', retrain: false, drifted: false },
    });
    expect(await versions()).toEqual([1]);

    // The same rows with three inputs moved: a new data set whose test rows drifted.
    const lines = readFileSync(small, 'utf8').trim().split('\n');
    const header = lines[0]!.split(',');
    const shiftedRows = lines.slice(1).map((l) => {
      const cells = l.split(',');
      const row = Object.fromEntries(header.map((h, j) => [h, cells[j]!]));
      shift(row, 'Humidity3pm', (v) => v + 25);
      shift(row, 'Pressure9am', (v) => v + 15);
      shift(row, 'WindGustSpeed', (v) => v * 1.6);
      return header.map((h) => row[h]).join(',');
    });
    const shifted = join(home.dir, 'shifted-all.csv');
    writeFileSync(shifted, `${[lines[0], ...shiftedRows].join('\n')}\n`);
    const moved = await cli(
      ['pipeline', '--source', shifted, '--retrain-when', 'drift', '--cv', '2', '--json'],
      {},
      home.dir,
    );
    expect(moved.code).toBe(0);
    const out = JSON.parse(moved.stdout);
    expect(out.action).toBe('retrain');
    expect(out.decision).toMatchObject({ retrain: true, drifted: true });
    expect(out.decision.drifted_features.sort()).toEqual([...SHIFTED].sort());
    expect(out.result.trained).toBe(true);
    expect(await versions()).toEqual([2, 1]);
    const registry = await openRegistry(join(home.dir, '.rainops/registry.db'));
    try {
      expect((await registry.getRun(out.decision.monitor_run_id)).tags).toMatchObject({ pipeline_decision: 'retrain' });
      expect((await registry.getRun(out.result.run_id)).tags).toMatchObject({
        retrain_when: 'drift',
        monitor_run_id: out.decision.monitor_run_id,
      });
    } finally {
      await registry.close();
    }
  }, 240_000);
});
