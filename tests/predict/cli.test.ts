import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANSWER_DRY, ANSWER_RAIN } from '../../src/core/bundle/predictor.js';
import { run } from '../../src/cli.js';
import { openRegistry } from '../../src/registry/index.js';
import { cli, tempDir, weatherCsvText } from '../helpers/cli.js';
import { closedPort, fakeServer } from './fake-server.js';
import type { FakeServer } from './fake-server.js';
import { EXAMPLE_FEATURES, HEADER, ROW1, ROW2 } from './fixtures.js';

const MODEL = 'Rain_dataset_model_prod';
const lines = (text: string) => text.trimEnd().split('\n');

describe('rainops predict with a registered model', () => {
  const home = tempDir();
  const work = tempDir();
  const at = (name: string) => join(work, name);
  let datasetDir: string;
  let version: number;
  const predict = (args: string[]) => cli(['predict', ...args], {}, home);

  beforeAll(async () => {
    // The real ETL and a one-candidate search on the first 3,000 rows: a model in a few seconds.
    writeFileSync(at('small.csv'), `${lines(weatherCsvText().slice(0, 400_000)).slice(0, 3_001).join('\n')}\n`);
    writeFileSync(at('grid.json'), JSON.stringify({ learningRate: [0.3], maxDepth: [3], nEstimators: [20] }));
    const etl = await cli(['etl', '--source', at('small.csv'), '--json'], {}, home);
    expect(etl.code, etl.stderr).toBe(0);
    const opt = await cli(
      ['optimize', '--grid', at('grid.json'), '--cv', '2', '--engine', 'wasm', '--jobs', '1', '--json'],
      {},
      home,
    );
    expect(opt.code, opt.stderr).toBe(0);
    const result = JSON.parse(opt.stdout) as { version: number; dataset_id: string };
    version = result.version;
    datasetDir = join(home, '.rainops', 'store', 'datasets', result.dataset_id);
  });

  describe('one row', () => {
    it('prints the answer text, the probability and the model version', async () => {
      const r = await predict(['--features', JSON.stringify({ features: EXAMPLE_FEATURES })]);
      expect(r.code, r.stderr).toBe(0);
      const out = lines(r.stdout);
      expect([ANSWER_RAIN, ANSWER_DRY]).toContain(out[0]);
      expect(out[1]).toMatch(/^probability of rain: 0\.\d{4}$/);
      expect(out[2]).toBe(`model: ${MODEL} v${version}`);
    });

    it('prints the API response with --json, from the bare features or standard input, by alias or version', async () => {
      const r = await predict(['--features', JSON.stringify(EXAMPLE_FEATURES), '--json']);
      expect(r.code, r.stderr).toBe(0);
      const body = JSON.parse(r.stdout);
      expect(Object.keys(body)).toEqual(['prediction_bool', 'prediction_str', 'probability', 'model']);
      expect(body.model).toEqual({ name: MODEL, version });
      expect(body.prediction_str).toBe(body.prediction_bool ? ANSWER_RAIN : ANSWER_DRY);
      const registry = await openRegistry(join(home, '.rainops', 'registry.db'));
      const threshold = (await registry.getModelVersion(MODEL, version)).params.threshold as number;
      await registry.close();
      expect(body.prediction_bool).toBe(body.probability >= threshold ? 1 : 0);

      let stdout = '';
      const stdin = new PassThrough();
      stdin.end(JSON.stringify({ features: { ...EXAMPLE_FEATURES, RainToday: 'No' } }));
      const code = await run(['predict', '--features', '-', '--version', String(version), '--json'], {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: () => true },
        stdin,
        env: { RAINOPS_HOME: join(home, '.rainops') },
        cwd: home,
      });
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toEqual(body);
    });

    it('rejects invalid features with exit 2 and one line naming the field', async () => {
      const r = await predict(['--features', JSON.stringify({ features: { ...EXAMPLE_FEATURES, MaxTemp: 80 } })]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('rainops: predict: invalid features: ✖ Too big: expected number to be <=70 → at MaxTemp\n');
      const loc = await predict(['--features', JSON.stringify({ ...EXAMPLE_FEATURES, Location: 'Adelaid' })]);
      expect(loc.code).toBe(2);
      expect(loc.stderr).toMatch(/unknown location "Adelaid"; closest: Adelaide.* → at Location\n$/);
      const json = await predict(['--features', '{"features":']);
      expect(json.code).toBe(2);
      expect(json.stderr).toMatch(/^rainops: predict: --features is not valid JSON/);
    });

    it('explains a missing alias or version (exit 1)', async () => {
      const r = await predict(['--features', JSON.stringify(EXAMPLE_FEATURES), '--alias', 'challenger']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`model ${MODEL} has no alias challenger`);
      expect((await predict(['--features', JSON.stringify(EXAMPLE_FEATURES), '--version', '99'])).code).toBe(1);
    });
  });

  describe('a file', () => {
    it('scores preprocessed/X_test.csv with the F1 the registry recorded for the version', async () => {
      const r = await predict([
        '--input',
        join(datasetDir, 'preprocessed', 'X_test.csv'),
        '--output',
        at('test-preds.csv'),
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout);
      const preds = lines(readFileSync(at('test-preds.csv'), 'utf8'));
      const y = lines(readFileSync(join(datasetDir, 'final', 'y_test.csv'), 'utf8'))
        .slice(1)
        .map(Number);
      expect(preds[0]).toBe('Date,Location,prediction_bool,probability,prediction_str');
      expect(preds.length - 1).toBe(y.length);
      expect(summary).toMatchObject({
        rows: y.length,
        predicted: y.length,
        rejected: 0,
        model: { name: MODEL, version },
      });
      let tp = 0;
      let fp = 0;
      let fn = 0;
      preds.slice(1).forEach((line, i) => {
        const p = Number(line.split(',')[2]);
        if (p === 1 && y[i] === 1) tp++;
        else if (p === 1) fp++;
        else if (y[i] === 1) fn++;
      });
      const f1 = (2 * tp) / (2 * tp + fp + fn);
      const registry = await openRegistry(join(home, '.rainops', 'registry.db'));
      const recorded = (await registry.getModelVersion(MODEL, version)).metrics.test_f1!;
      await registry.close();
      expect(Math.abs(f1 - recorded)).toBeLessThan(0.001);
    });

    it('skips invalid CSV rows, reporting them by reason with their line numbers', async () => {
      writeFileSync(
        at('rows.csv'),
        `${[HEADER, ROW1, ROW1.replace(',13.4,', ',hot,'), ROW2, '', ROW2.replace('Sydney', 'Gotham'), ROW2.replace(',8.1,', ',x,')].join('\n')}\n`,
      );
      const r = await predict(['--input', at('rows.csv'), '--output', at('rows-preds.csv')]);
      expect(r.code, r.stderr).toBe(0);
      const out = lines(readFileSync(at('rows-preds.csv'), 'utf8'));
      expect(out.map((l) => l.split(',').slice(0, 2).join(','))).toEqual([
        'Date,Location',
        '2008-12-01,Albury',
        '2017-06-25,Sydney',
      ]);
      expect(out[1]).toMatch(/^2008-12-01,Albury,[01],0\.\d+,(Toma|Más)/);
      expect(r.stderr).toContain(`predict: 2 of 5 rows scored by ${MODEL} v${version}`);
      expect(r.stderr).toContain('predict: skipped 3 invalid rows');
      expect(r.stderr).toContain('  2 × MinTemp: expected a number (lines 3, 7)');
      expect(r.stderr).toMatch(/ {2}1 × Location: unknown location "Gotham"; closest: .* \(line 6\)/);
    });

    it('reads JSON Lines and writes JSON Lines (or CSV to standard output)', async () => {
      const raw = { ...EXAMPLE_FEATURES, RainToday: 'No', Sunshine: 'NA', RainTomorrow: 'Yes' };
      writeFileSync(
        at('rows.jsonl'),
        `${[JSON.stringify(raw), JSON.stringify({ features: EXAMPLE_FEATURES }), '{"Date": "2024-08-26"}'].join('\n')}\n`,
      );
      const r = await predict(['--input', at('rows.jsonl'), '--output', at('rows-preds.jsonl'), '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        rows: 3,
        predicted: 2,
        rejected: 1,
        rejected_by_reason: { 'Location: expected a station name': { count: 1, lines: [3] } },
      });
      const out = lines(readFileSync(at('rows-preds.jsonl'), 'utf8')).map((l) => JSON.parse(l));
      expect(out).toHaveLength(2);
      expect(Object.keys(out[0])).toEqual(['Date', 'Location', 'prediction_bool', 'probability', 'prediction_str']);
      expect(out[1]).toMatchObject({ Date: '2024-08-26', Location: 'Adelaide' });
      const stdout = await predict(['--input', at('rows.jsonl'), '--output', '-']);
      expect(lines(stdout.stdout)).toHaveLength(3);
      expect(lines(stdout.stdout)[0]).toBe('Date,Location,prediction_bool,probability,prediction_str');
    });

    it('with --strict stops at the first invalid row, exit 1 naming the line, and writes nothing', async () => {
      writeFileSync(
        at('strict.csv'),
        `${[HEADER, ROW1, ROW2, ROW2.replace(',W,41,', ',NORTH,41,'), ROW1].join('\n')}\n`,
      );
      const r = await predict(['--input', at('strict.csv'), '--output', at('strict-preds.csv'), '--strict']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^rainops: predict: strict\.csv line 4: WindGustDir: expected one of .*; fix the row or run without --strict to skip invalid rows\n$/,
      );
      expect(existsSync(at('strict-preds.csv'))).toBe(false);
      expect(readdirSync(work).filter((f) => f.includes('strict-preds'))).toEqual([]);
    });

    it('refuses a garbage file with exit 1 naming the file and line, printing no raw bytes and no partial output', async () => {
      writeFileSync(
        at('garbage.csv'),
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x22, 0x00, 0x0a, 0x41, 0x22, 0x0a]),
      );
      const r = await predict(['--input', at('garbage.csv')]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        'rainops: predict: garbage.csv line 1 is not CSV text (binary or non-UTF-8 bytes); expected the weatherAUS header and comma-separated rows\n',
      );
    });

    it('scores the rows around one that is not CSV (an unquoted =HYPERLINK("...")), naming its line', async () => {
      writeFileSync(
        at('link.csv'),
        `${[HEADER, ROW1, ROW1.replace('Albury', '=HYPERLINK("http://e.x/a";"Albury")'), ROW2].join('\n')}\n`,
      );
      const r = await predict(['--input', at('link.csv')]);
      expect(r.code, r.stderr).toBe(0);
      expect(lines(r.stdout).map((l) => l.split(',').slice(0, 2).join(','))).toEqual([
        'Date,Location',
        '2008-12-01,Albury',
        '2017-06-25,Sydney',
      ]);
      expect(r.stderr).toContain('1 × not CSV text: a quote inside an unquoted field (line 3)');
    });
  });

  describe('bad usage', () => {
    it('exits 2 with the reason', async () => {
      const cases: Array<[string[], RegExp]> = [
        [
          ['--interactive'],
          /--interactive needs a terminal, and standard input is not one; pass --features or --input instead/,
        ],
        [[], /pass --features '\{\.\.\.\}' or --input FILE/],
        [['--output', 'x.csv'], /--output: goes with --input FILE/],
        [['--input', 'rows.txt', '--output', 'x.csv'], /--input: cannot tell the format of rows\.txt/],
        [['--features', '{}', '--input', 'a.csv'], /pass only one of --features, --input and --interactive/],
        [['--features', '{}', '--alias', 'a', '--version', '1'], /--version: pass --alias or --version, not both/],
        [['--features', '{}', '--url', 'localhost:8800'], /--url: expected an http:\/\/ or https:\/\/ URL/],
        [['--input', 'a.csv', '--json'], /--json: needs --output FILE/],
      ];
      for (const [args, message] of cases) {
        const r = await predict(args);
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.stderr, args.join(' ')).toMatch(message);
      }
    });
  });
});

describe('rainops predict --url', () => {
  let server: FakeServer;
  beforeAll(async () => {
    server = await fakeServer();
  });
  afterAll(async () => server.close());

  it('asks a running server for one row and for a file', async () => {
    const one = await cli([
      'predict',
      '--url',
      server.url,
      '--features',
      JSON.stringify({ features: EXAMPLE_FEATURES }),
      '--json',
    ]);
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toEqual({
      prediction_bool: 1,
      prediction_str: ANSWER_RAIN,
      probability: 0.95,
      model: { name: MODEL, version: 4 },
    });
    const dir = tempDir();
    writeFileSync(join(dir, 'rows.csv'), `${[HEADER, ROW2, ROW1].join('\n')}\n`);
    const file = await cli([
      'predict',
      '--url',
      server.url,
      '--input',
      join(dir, 'rows.csv'),
      '--output',
      join(dir, 'preds.csv'),
    ]);
    expect(file.code, file.stderr).toBe(0);
    expect(lines(readFileSync(join(dir, 'preds.csv'), 'utf8'))).toEqual([
      'Date,Location,prediction_bool,probability,prediction_str',
      `2017-06-25,Sydney,0,0.41,${ANSWER_DRY}`,
    ]);
    expect(file.stderr).toContain(
      '1 × Evaporation: missing; the server needs every field (drop --url to score locally, which imputes it) (line 3)',
    );
  });

  it('rejects invalid features before asking (exit 2), and explains a refused connection (exit 1)', async () => {
    const bad = await cli([
      'predict',
      '--url',
      server.url,
      '--features',
      JSON.stringify({ ...EXAMPLE_FEATURES, Sunshine: 25 }),
    ]);
    expect(bad.code).toBe(2);
    const port = await closedPort();
    const down = await cli([
      'predict',
      '--url',
      `http://127.0.0.1:${port}`,
      '--features',
      JSON.stringify(EXAMPLE_FEATURES),
    ]);
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(
      `rainops: predict: cannot reach rainops serve at http://127.0.0.1:${port} (ECONNREFUSED); start it with 'rainops serve' or check --url\n`,
    );
  });
});
