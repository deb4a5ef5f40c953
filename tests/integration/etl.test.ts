import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fitPipeline, FEATURE_NAMES, transformRows } from '../../src/core/features/pipeline.js';
import type { InputsPipeline } from '../../src/core/features/pipeline.js';
import { readWeatherCsv } from '../../src/core/dataset/read-csv.js';
import { cli, tempDir, WEATHER_CSV, weatherCsvText } from '../helpers/cli.js';

const readCsv = (path: string) => readFileSync(path, 'utf8').trimEnd().split('\n');

describe('rainops etl on the real weatherAUS.csv', () => {
  const home = tempDir();
  let result: { dataset_id: string; run_id: string; rows: Record<string, number>; uri: string };
  let dir: string;

  beforeAll(async () => {
    const r = await cli(['etl', '--source', WEATHER_CSV, '--json'], {}, home);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect(r.code).toBe(0);
    result = JSON.parse(r.stdout);
    dir = join(home, '.rainops', 'store', 'datasets', result.dataset_id);
  });

  it('keeps 142,193 labelled rows, split 113,754 / 28,439', () => {
    expect(result.rows).toMatchObject({
      total: 145_460,
      rejected: 0,
      excluded_by_until: 0,
      dropped: 3_267,
      kept: 142_193,
      train: 113_754,
      test: 28_439,
    });
  });

  it('writes every file of the layout with the 27 features in order', () => {
    for (const f of ['raw.csv', 'manifest.json', 'pipes/inputs_pipeline.json'].concat(
      ['preprocessed', 'final'].flatMap((d) => ['X_train', 'X_test', 'y_train', 'y_test'].map((n) => `${d}/${n}.csv`)),
    )) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    const finalTrain = readCsv(join(dir, 'final/X_train.csv'));
    expect(finalTrain[0]!.split(',')).toEqual([...FEATURE_NAMES]);
    expect(finalTrain.length - 1).toBe(113_754);
    expect(readCsv(join(dir, 'final/X_test.csv')).length - 1).toBe(28_439);
    expect(readCsv(join(dir, 'final/y_train.csv'))[0]).toBe('RainTomorrow');
  });

  it('keeps labels with their rows: preprocessed y matches the source row and final y row by row', () => {
    const source = new Map<string, string>();
    for (const line of weatherCsvText().trimEnd().split('\n').slice(1)) {
      const c = line.split(',');
      source.set(`${c[0]},${c[1]}`, c[22]!);
    }
    for (const side of ['train', 'test']) {
      const x = readCsv(join(dir, `preprocessed/X_${side}.csv`)).slice(1);
      const y = readCsv(join(dir, `preprocessed/y_${side}.csv`)).slice(1);
      const yFinal = readCsv(join(dir, `final/y_${side}.csv`)).slice(1);
      expect(y.length).toBe(x.length);
      expect(yFinal.length).toBe(x.length);
      for (let i = 0; i < x.length; i++) {
        const [date, location] = x[i]!.split(',');
        if (source.get(`${date},${location}`) !== y[i] || (y[i] === 'Yes' ? '1' : '0') !== yFinal[i]) {
          throw new Error(`${side} row ${i + 1} (${date} ${location}) lost its label`);
        }
      }
    }
  });

  it('final/ is the pipeline refitted on preprocessed/X_train applied to each side (1e-5)', async () => {
    const train = await readWeatherCsv(join(dir, 'preprocessed/X_train.csv'), { optionalColumns: ['RainTomorrow'] });
    const refit = fitPipeline(train.rows);
    const saved = JSON.parse(readFileSync(join(dir, 'pipes/inputs_pipeline.json'), 'utf8')) as InputsPipeline;
    expect(saved.scale.mean).toEqual(refit.scale.mean.map((m) => expect.closeTo(m, 9)));
    for (const side of ['train', 'test']) {
      const rows =
        side === 'train'
          ? train.rows
          : (await readWeatherCsv(join(dir, 'preprocessed/X_test.csv'), { optionalColumns: ['RainTomorrow'] })).rows;
      const expected = transformRows(refit, rows);
      const final = readCsv(join(dir, `final/X_${side}.csv`)).slice(1);
      let worst = 0;
      final.forEach((line, i) =>
        line.split(',').forEach((v, j) => (worst = Math.max(worst, Math.abs(Number(v) - expected[i * 27 + j]!)))),
      );
      expect(worst).toBeLessThan(1e-5);
    }
  });

  it('standardizes the training features: mean 0, population std 1', () => {
    const rows = readCsv(join(dir, 'final/X_train.csv'))
      .slice(1)
      .map((l) => l.split(',').map(Number));
    for (let j = 0; j < 27; j++) {
      const col = rows.map((r) => r[j]!);
      const mu = col.reduce((a, b) => a + b, 0) / col.length;
      const sd = Math.sqrt(col.reduce((a, b) => a + (b - mu) ** 2, 0) / col.length);
      expect(Math.abs(mu), FEATURE_NAMES[j]).toBeLessThan(1e-6);
      expect(sd, FEATURE_NAMES[j]).toBeCloseTo(1, 5);
    }
  });

  it('records the run, its parameters, metrics, artifacts and the data set', async () => {
    const runs = await cli(['runs', 'show', result.run_id.slice(0, 8), '--json'], {}, home);
    expect(runs.code).toBe(0);
    const run = JSON.parse(runs.stdout);
    expect(run).toMatchObject({
      status: 'FINISHED',
      experiment: 'Rain Dataset',
      name: 'etl',
      params: { seed: '42', test_size: '0.2', split: 'stratified' },
    });
    expect(run.metrics).toMatchObject({ rows_train: 113_754, rows_test: 28_439, rows_rejected: 0 });
    expect(run.metrics.train_positive_rate).toBeCloseTo(0.2242, 3);
    expect(run.duration_ms).toBeGreaterThan(0);
    expect(run.peak_rss_bytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(run.artifacts.map((a: { path: string }) => a.path)).toContain('final/X_train.csv');
    expect(run.datasets).toEqual([expect.objectContaining({ id: result.dataset_id, role: 'output' })]);
    const ds = await cli(['datasets', 'show', result.dataset_id, '--json'], {}, home);
    expect(JSON.parse(ds.stdout)).toMatchObject({ id: result.dataset_id, rows: { train: 113_754, test: 28_439 } });
  });

  it('reuses the version for the same source and split, and makes a new one for another seed', async () => {
    const again = JSON.parse((await cli(['etl', '--source', WEATHER_CSV, '--json'], {}, home)).stdout);
    expect(again).toMatchObject({
      dataset_id: result.dataset_id,
      reused: true,
      rows: { excluded_by_until: 0, train: 113_754 },
    });
    const until = await cli(
      ['etl', '--source', WEATHER_CSV, '--until', '2009-06-30', '--seed', '7', '--json'],
      {},
      home,
    );
    const other = JSON.parse(until.stdout);
    expect(other.dataset_id).not.toBe(result.dataset_id);
    // Rows dated after --until are left out, and the count says so.
    expect(other.rows.excluded_by_until).toBeGreaterThan(100_000);
    expect(other.rows.total - other.rows.rejected - other.rows.excluded_by_until - other.rows.dropped).toBe(
      other.rows.kept,
    );
    const human = await cli(['etl', '--source', WEATHER_CSV, '--until', '2009-06-30', '--seed', '7'], {}, home);
    expect(human.stdout).toMatch(
      new RegExp(`^dated after --until 2009-06-30 \\(left out\\) +${other.rows.excluded_by_until}$`, 'm'),
    );
    const noUntil = await cli(['etl', '--source', WEATHER_CSV], {}, home);
    expect(noUntil.stdout).not.toContain('--until');
    const list = JSON.parse((await cli(['datasets', 'list', '--json'], {}, home)).stdout);
    expect(list).toHaveLength(2);
  });
});

describe('rainops etl on bad input', () => {
  const header =
    'Date,Location,MinTemp,MaxTemp,Rainfall,Evaporation,Sunshine,WindGustDir,WindGustSpeed,WindDir9am,WindDir3pm,WindSpeed9am,WindSpeed3pm,Humidity9am,Humidity3pm,Pressure9am,Pressure3pm,Cloud9am,Cloud3pm,Temp9am,Temp3pm,RainToday,RainTomorrow';
  const row = (date: string, loc = 'Albury', minTemp = '13.4', tomorrow = 'No') =>
    `${date},${loc},${minTemp},22.9,0.6,NA,NA,W,44,W,WNW,20,24,71,22,1007.7,1007.1,8,NA,16.9,21.8,No,${tomorrow}`;
  const write = (body: string) => {
    const p = join(tempDir(), 'data.csv');
    writeFileSync(p, body);
    return p;
  };
  const datasets = async (home: string) => JSON.parse((await cli(['datasets', 'list', '--json'], {}, home)).stdout);

  it('names the missing column, exits 1 with one line, and registers nothing', async () => {
    const home = tempDir();
    const p = write(`${header.replace(',RainTomorrow', '')}\n${row('2008-12-01').replace(/,No$/, '')}\n`);
    const r = await cli(['etl', '--source', p], {}, home);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      'rainops: etl: column RainTomorrow is missing from data.csv (line 1); expected the weatherAUS header',
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await datasets(home)).toEqual([]);
    const runs = JSON.parse((await cli(['runs', 'list', '--json'], {}, home)).stdout);
    expect(runs).toEqual([expect.objectContaining({ status: 'FAILED', name: 'etl' })]);
  });

  it('counts rows with garbage numbers or unknown locations, and --strict names the line', async () => {
    const rows = [
      row('2008-12-01'),
      row('2008-12-02', 'Albury', 'abc'),
      row('2008-12-03', 'Atlantis'),
      row('2008-12-04', 'Albury', '1', 'Yes'),
      row('2008-12-05'),
      row('2008-12-06', 'Albury', '2', 'Yes'),
    ];
    const p = write(`${[header, ...rows].join('\n')}\n`);
    const home = tempDir();
    const r = await cli(['etl', '--source', p, '--json'], {}, home);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.rows).toMatchObject({ total: 6, rejected: 2, kept: 4, test: 1, train: 3 });
    expect(out.rejected_by_reason).toEqual({
      'MinTemp: expected a number': 1,
      'Location: unknown location "Atlantis"; closest: Albany, Watsonia, Adelaide': 1,
    });
    const strict = await cli(['etl', '--source', p, '--strict'], {}, tempDir());
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('data.csv line 3: MinTemp: expected a number');
  });

  it('explains an empty file, a missing file and an unreachable URL', async () => {
    const empty = await cli(['etl', '--source', write('')]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('data.csv is empty');
    const missing = await cli(['etl', '--source', '/nonexistent/weather.csv']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('does not exist');
    const port = await closedPort();
    const url = await cli(['etl', '--source', `http://127.0.0.1:${port}/weatherAUS.csv`]);
    expect(url.code).toBe(1);
    expect(url.stderr).toContain(
      `cannot download http://127.0.0.1:${port}/weatherAUS.csv (ECONNREFUSED); check the network, or pass --source PATH`,
    );
  });

  it('says which line of a binary or garbage file is not CSV text, without echoing its bytes (exit 1)', async () => {
    const garbage = join(tempDir(), 'garbage.bin');
    writeFileSync(garbage, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x22, 0xc3, 0x0a, 0x41, 0x22, 0x42, 0x0a]));
    const r = await cli(['etl', '--source', garbage]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      'rainops: etl: garbage.bin line 1 is not CSV text (binary or non-UTF-8 bytes); expected the weatherAUS header and comma-separated rows',
    );
    const quotes = await cli([
      'etl',
      '--source',
      write(`${[header, row('2008-12-01'), row('2008-12-02', '=HYPERLINK("x")')].join('\n')}\n`),
    ]);
    expect(quotes.code).toBe(1);
    expect(quotes.stderr).toContain(
      'rainops: etl: data.csv line 3 is not CSV text (a quote inside an unquoted field);',
    );
    expect(quotes.stderr).not.toContain('unexpected error');
  });

  it('rejects bad flags as usage errors (exit 2)', async () => {
    const r = await cli(['etl', '--source', WEATHER_CSV, '--test-size', '1.5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--test-size: expected a fraction between 0 and 1');
    expect((await cli(['etl', '--until', '2015-02-30'])).stderr).toContain('--until: expected a calendar day');
    expect((await cli(['etl', '--split', 'random'])).code).toBe(2);
    expect((await cli(['etl', '--bogus'])).code).toBe(2);
  });
});

/** A loopback port that nothing listens on: bound, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
