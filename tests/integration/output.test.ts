import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli as runIn, tempDir, weatherCsvText } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { nonSnakeKeys } from '../helpers/json-keys.js';

const MODEL = 'Rain_dataset_model_prod';
const PACKAGE = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as { version: string };
// Progress, warnings and logs only: every stderr line of a command that succeeds is one timestamped log line of it.
const onlyLogLines = (stderr: string, scope: string) =>
  stderr
    .trimEnd()
    .split('\n')
    .filter((l) => !new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${scope}: `).test(l));

/** Parses --json output and checks that every key is snake_case (data maps aside). */
function snakeJson(r: CliResult, what: string): any {
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
  const doc: unknown = JSON.parse(r.stdout);
  expect(nonSnakeKeys(doc), what).toEqual([]);
  return doc;
}

describe('the output contract: results on stdout, progress on stderr, snake_case JSON', () => {
  const home = tempDir();
  const csv = join(home, 'small.csv');
  const grid = join(home, 'grid.json');
  const run = (args: string[]) => runIn(args, {}, home);
  let early: { dataset_id: string };
  let human: { etl: CliResult; optimize: CliResult };
  let firstRun: string;

  beforeAll(async () => {
    // Every 24th row of weatherAUS: about 6,000 rows from every station and year, trained in seconds.
    const lines = weatherCsvText().split('\n');
    writeFileSync(csv, `${lines.filter((l, i) => i === 0 || (i % 24 === 0 && l !== '')).join('\n')}\n`);
    writeFileSync(grid, JSON.stringify({ max_depth: [2, 3], learning_rate: [0.3], n_estimators: [15] }));
    const etl = await run(['etl', '--source', csv, '--until', '2012-12-31']);
    early = snakeJson(await run(['etl', '--source', csv, '--until', '2012-12-31', '--json']), 'etl --json');
    const optimize = await run(['optimize', '--grid', grid, '--cv', '2', '--engine', 'wasm', '--jobs', '1']);
    expect(optimize.code, optimize.stderr).toBe(0);
    human = { etl, optimize };
    firstRun = /from run ([0-9a-f-]+) /.exec(optimize.stdout)![1]!;
  }, 180_000);
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('etl prints its summary on stdout and nothing but progress on stderr', () => {
    const { etl } = human;
    expect(etl.code).toBe(0);
    expect(etl.stdout).toMatch(new RegExp(`^data set ${early.dataset_id} `));
    expect(etl.stdout).toMatch(/^train +\d+$/m);
    expect(etl.stdout).toMatch(/^stored at /m);
    expect(etl.stderr).toMatch(/etl: reading /);
    expect(onlyLogLines(etl.stderr, 'etl')).toEqual([]);
  });

  it('optimize prints its summary and where the plots are on stdout, progress on stderr', () => {
    const { optimize } = human;
    expect(optimize.stdout).toMatch(new RegExp(`^${MODEL} v1 from run `, 'm'));
    const plots = [...optimize.stdout.matchAll(/^ {2}(\/\S+\.svg)$/gm)].map((m) => m[1]!);
    expect(plots.map((p) => p.split('/').at(-1))).toEqual([
      'roc.svg',
      'precision_recall.svg',
      'confusion_matrix.svg',
      'feature_importance.svg',
    ]);
    for (const p of plots) expect(readFileSync(p, 'utf8').startsWith('<svg')).toBe(true);
    expect(optimize.stdout).toMatch(/^test metrics on all \d+ test rows of data set /m);
    expect(onlyLogLines(optimize.stderr, 'optimize')).toEqual([]);
  });

  it("optimize's progress says how many fits run at once, and one job runs one trial at a time", async () => {
    expect(human.optimize.stderr).toContain('grid search: 2 candidates x 2 folds, metric f1; one fold fit at a time');
    expect(human.optimize.stderr).not.toContain('job(s)');
    const trials = snakeJson(
      await run(['runs', 'list', '--parent', firstRun, '--sort', 'start_time', '--json']),
      'runs list --json',
    );
    expect(trials).toHaveLength(2);
    expect(trials[1].start_time >= trials[0].end_time).toBe(true);
    expect(trials.map((t: { params: Record<string, string> }) => t.params.max_depth)).toEqual(['2', '3']);
  });

  it('a run records only the parameters that apply to its search', async () => {
    const gridRun = snakeJson(await run(['runs', 'show', firstRun, '--json']), 'runs show --json');
    expect(gridRun.params).toMatchObject({ search: 'grid', grid, cv: '2' });
    expect(gridRun.params.trials).toBeUndefined();
    const random = snakeJson(
      await run([
        'optimize',
        '--search',
        'random',
        '--trials',
        '1',
        '--cv',
        '2',
        '--early-stopping',
        '5',
        '--engine',
        'wasm',
        '--promote',
        'never',
        '--json',
      ]),
      'optimize --json',
    );
    expect(random.plots).toHaveLength(4);
    expect(random.resumed).toBeNull();
    const randomRun = snakeJson(await run(['runs', 'show', random.run_id, '--json']), 'runs show --json');
    expect(randomRun.params).toMatchObject({ search: 'random', trials: '1' });
    expect(randomRun.params.grid).toBeUndefined();
    // Hyperparameters are recorded, filtered and sorted under XGBoost's names.
    expect(Object.keys(random.best_params)).toEqual(
      expect.arrayContaining(['max_depth', 'learning_rate', 'n_estimators', 'colsample_bytree']),
    );
    const byDepth = snakeJson(
      await run(['runs', 'list', '--all', '--filter', `params.max_depth=${random.best_params.max_depth}`, '--json']),
      'runs list --filter',
    );
    expect(byDepth.length).toBeGreaterThan(0);
    expect(
      byDepth.every(
        (r: { params: Record<string, string> }) => r.params.max_depth === String(random.best_params.max_depth),
      ),
    ).toBe(true);
  }, 120_000);

  it('optimize --resume with a prefix says what it resumed and tags the full run id', async () => {
    const r = await run(['optimize', '--resume', firstRun.slice(0, 8), '--promote', 'never']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^resumed run ${firstRun}: 2 of 2 trials reused$`, 'm'));
    const runId = /from run ([0-9a-f-]+) /.exec(r.stdout)![1]!;
    const shown = snakeJson(await run(['runs', 'show', runId, '--json']), 'runs show --json');
    expect(shown.tags.resumed_from).toBe(firstRun);
    const json = snakeJson(
      await run(['optimize', '--resume', firstRun.slice(0, 8), '--promote', 'never', '--json']),
      'optimize --resume --json',
    );
    expect(json.resumed).toEqual({ from_run_id: firstRun, trials_reused: 2, trials_total: 2 });
  }, 120_000);

  it('runs show says where the artifacts and plots are', async () => {
    const r = await run(['runs', 'show', firstRun]);
    expect(r.code).toBe(0);
    const where = /^artifacts in (\S+)$/m.exec(r.stdout)![1]!;
    expect(existsSync(join(where, 'plots/roc.svg'))).toBe(true);
    const plots = [...r.stdout.matchAll(/^ {2}(\/\S+\.svg)$/gm)].map((m) => m[1]!);
    expect(plots).toHaveLength(4);
    for (const p of plots) expect(existsSync(p)).toBe(true);
  });

  it('retrain, promote, rollback and pipeline print their result on stdout, snake_case with --json', async () => {
    const full = snakeJson(await run(['etl', '--source', csv, '--json']), 'etl --json');
    // --min-delta 1: the challenger cannot win, so the champion stays on the early data set for the next rounds.
    const retrain = await run(['retrain', '--cv', '2', '--min-delta', '1']);
    expect(retrain.code, retrain.stderr).toBe(0);
    expect(retrain.stdout).toMatch(/^test_f1_champion +0\.\d{4} +\(v1, trained on /m);
    expect(retrain.stdout).toMatch(
      new RegExp(`^both scored on the same \\d+ test rows of data set ${full.dataset_id}`, 'm'),
    );
    expect(retrain.stdout).toContain(
      "'rainops models show' lists each version's test_f1 on all test rows of its own data set",
    );
    expect(onlyLogLines(retrain.stderr, 'retrain')).toEqual([]);
    const json = snakeJson(await run(['retrain', '--cv', '2', '--min-delta', '1', '--json']), 'retrain --json');
    expect(json).toMatchObject({ trained: true, dataset_id: full.dataset_id, winner: 'champion' });
    expect(json.comparison_rows + json.excluded_rows).toBe(full.rows.test);
    const nothing = await run(['retrain', '--dataset', early.dataset_id]);
    expect(nothing.stdout).toBe(
      `no newer data set than the champion's ${early.dataset_id}; nothing to retrain (use --force to retrain anyway)\n`,
    );
    expect(nothing.stderr).toBe('');

    const promote = await run(['promote', MODEL, '2']);
    expect(promote.stdout).toBe(`${MODEL}@prod_best: v1 -> v2\n`);
    expect(snakeJson(await run(['rollback', MODEL, '--json']), 'rollback --json')).toMatchObject({
      from_version: 2,
      to_version: 1,
      changed: true,
    });
    expect(snakeJson(await run(['promote', MODEL, '2', '--json']), 'promote --json')).toMatchObject({
      from_version: 1,
      to_version: 2,
    });
    expect((await run(['rollback', MODEL])).stdout).toBe(`${MODEL}@prod_best: v2 -> v1\n`);

    const pipeline = snakeJson(
      await run(['pipeline', '--source', csv, '--cv', '2', '--min-delta', '1', '--json']),
      'pipeline --json',
    );
    expect(pipeline).toMatchObject({
      action: 'retrain',
      etl: { dataset_id: full.dataset_id, reused: true },
      result: { trained: true },
    });
  }, 180_000);

  it('models, runs, data sets and predict: every --json document is snake_case', async () => {
    const models = snakeJson(await run(['models', 'list', '--json']), 'models list --json');
    expect(models[0]).toMatchObject({ name: MODEL, aliases: { prod_best: 1 } });
    expect(models[0].latest_version).toBeGreaterThan(1);
    const shown = snakeJson(await run(['models', 'show', MODEL, '--json']), 'models show --json');
    expect(shown.versions.at(-1)).toMatchObject({
      version: 1,
      dataset_id: early.dataset_id,
      run_id: firstRun,
      bundle_uri: expect.any(String),
    });
    expect(shown.versions.at(-1).params).toMatchObject({ max_depth: expect.any(Number), learning_rate: 0.3 });
    expect(shown.alias_history[0]).toMatchObject({ from_version: null, to_version: 1 });
    const table = await run(['models', 'show', MODEL]);
    expect(table.stdout).toContain("test_f1 and test_roc_auc: on all test rows of each version's own data set");

    const all = snakeJson(await run(['runs', 'list', '--all', '--json']), 'runs list --json');
    const trials = all.filter((r: { parent_run_id: string | null }) => r.parent_run_id === firstRun);
    const cmp = snakeJson(await run(['runs', 'compare', trials[0].id, trials[1].id, '--json']), 'runs compare --json');
    expect(cmp.rows.find((r: { key: string }) => r.key === 'max_depth')).toMatchObject({ changed: true });
    const show = snakeJson(await run(['runs', 'show', firstRun, '--json']), 'runs show --json');
    expect(show.metric_history).toBeDefined();
    expect(show.artifacts[0]).toHaveProperty('created_at');

    const datasets = snakeJson(await run(['datasets', 'list', '--json']), 'datasets list --json');
    expect(datasets[0]).toHaveProperty('source_sha256');
    const ds = snakeJson(await run(['datasets', 'show', early.dataset_id, '--json']), 'datasets show --json');
    expect(ds.split).toMatchObject({ test_size: 0.2 });
    expect(Object.keys(ds.files)).toContain('final/X_train.csv');

    const preds = join(home, 'preds.csv');
    const predict = snakeJson(await run(['predict', '--input', csv, '--output', preds, '--json']), 'predict --json');
    expect(predict).toMatchObject({ output: preds, rejected: 0 });
    expect(predict.elapsed_ms).toBeGreaterThan(0);
  }, 60_000);
});

describe('the command line itself', () => {
  const cwd = tempDir();
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));
  const cli = (args: string[]) => runIn(args, {}, cwd);
  it('--version prints the version in package.json', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${PACKAGE.version}\n`);
  });

  it("an unknown flag is a usage error in rainops' voice that points at --help (exit 2)", async () => {
    const etl = await cli(['etl', '--sed', '3']);
    expect(etl.code).toBe(2);
    expect(etl.stderr).toBe("rainops: etl: unknown option '--sed' (did you mean --seed?); see 'rainops etl --help'\n");
    const list = await cli(['runs', 'list', '--bogus']);
    expect(list.code).toBe(2);
    expect(list.stderr).toBe("rainops: runs list: unknown option '--bogus'; see 'rainops runs list --help'\n");
    const root = await cli(['--bogus']);
    expect(root.stderr).toBe("rainops: unknown option '--bogus'; see 'rainops --help'\n");
    const command = await cli(['etll']);
    expect(command.code).toBe(2);
    expect(command.stderr).toBe("rainops: unknown command 'etll' (did you mean etl?); see 'rainops --help'\n");
  });
});
