import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/core/errors.js';
import { loadPredictor } from '../../src/core/registration.js';
import { createFileStore } from '../../src/core/store/file-store.js';
import { openRegistry } from '../../src/registry/index.js';
import { RUNS_LIST_EXAMPLES } from '../../src/commands/runs.js';
import { cli, tempDir } from '../helpers/cli.js';

const MODEL = 'Rain_dataset_model_prod';

describe('rainops optimize on the real data set (small budget)', () => {
  const home = tempDir();
  const grid = join(home, 'grid.json');
  // Parsed CLI JSON; its shape is what the first test asserts.
  let first: Record<string, any>;
  let testRows: number;

  beforeAll(async () => {
    writeFileSync(grid, JSON.stringify({ learningRate: [0.3], maxDepth: [3, 4], nEstimators: [40] }));
    // 2008-2009 (about 19,000 rows from every station of those years): the searches below train in seconds.
    const etl = await cli(['etl', '--until', '2009-12-31', '--json'], {}, home);
    expect(etl.code).toBe(0);
    testRows = JSON.parse(etl.stdout).rows.test;
    const r = await cli(
      ['optimize', '--grid', grid, '--cv', '3', '--engine', 'wasm', '--jobs', '2', '--json'],
      {},
      home,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    first = JSON.parse(r.stdout);
  }, 180_000);

  it('prints the documented JSON and registers v1 under prod_best', async () => {
    expect(first).toMatchObject({
      model: MODEL,
      version: 1,
      alias: 'prod_best',
      engine: 'wasm',
      cv: { metric: 'f1', trials: 2, folds: 3 },
    });
    expect(Object.keys(first.test).sort()).toEqual([
      'accuracy',
      'confusion_matrix',
      'f1',
      'log_loss',
      'precision',
      'recall',
      'roc_auc',
      'threshold',
    ]);
    expect(first.test.f1).toBeGreaterThan(0.6);
    expect(first.test.roc_auc).toBeGreaterThan(0.85);
    const [[tn, fp], [fn, tp]] = first.test.confusion_matrix;
    // Scored on every test row of the data set.
    expect(testRows).toBe(3_781);
    expect(tn + fp + fn + tp).toBe(testRows);
    expect(first.test.threshold).toBeGreaterThan(0.15);
    expect(first.test.threshold).toBeLessThan(0.6);
    expect(first.best_params.n_estimators).toBeLessThanOrEqual(40);
    expect(first.best_params.max_depth === 3 || first.best_params.max_depth === 4).toBe(true);
  });

  it('logs every trial as a child run with per-fold metrics, and the plots as artifacts', async () => {
    const trials = JSON.parse((await cli(['runs', 'list', '--parent', first.run_id, '--json'], {}, home)).stdout);
    expect(trials).toHaveLength(2);
    for (const t of trials) {
      expect(t.status).toBe('FINISHED');
      expect(t.params.max_depth === '3' || t.params.max_depth === '4').toBe(true);
      expect(t.params.maxDepth).toBeUndefined();
      const detail = JSON.parse((await cli(['runs', 'show', t.id, '--json'], {}, home)).stdout);
      expect(detail.metric_history.fold_roc_auc.map((p: { step: number }) => p.step)).toEqual([0, 1, 2]);
      expect(detail.metrics.cv_f1).toBeGreaterThan(0.55);
    }
    const parent = JSON.parse((await cli(['runs', 'show', first.run_id, '--json'], {}, home)).stdout);
    const paths = parent.artifacts.map((a: { path: string }) => a.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'plots/roc.svg',
        'plots/precision_recall.svg',
        'plots/confusion_matrix.svg',
        'plots/feature_importance.svg',
      ]),
    );
    const svg = readFileSync(join(home, '.rainops/store/runs', first.run_id, 'plots/roc.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(parent.metrics.test_f1).toBeCloseTo(first.test.f1, 10);
  });

  it('the bundle scores like the run reported, and a changed file is refused', async () => {
    const registry = await openRegistry(join(home, '.rainops/registry.db'));
    const store = createFileStore(join(home, '.rainops/store'));
    try {
      const predictor = await loadPredictor(registry, store, MODEL, 'prod_best');
      expect(predictor.version).toBe(1);
      expect(predictor.threshold).toBeCloseTo(first.test.threshold, 12);
      const trees = join(home, '.rainops/store/models', MODEL, '1/trees.json');
      const original = readFileSync(trees);
      const tampered = Buffer.from(original);
      tampered.writeUInt8(tampered.readUInt8(tampered.length - 3) ^ 1, tampered.length - 3);
      writeFileSync(trees, tampered);
      await expect(loadPredictor(registry, store, MODEL, 'prod_best')).rejects.toThrow(IntegrityError);
      await expect(loadPredictor(registry, store, MODEL, 'prod_best')).rejects.toThrow(
        /trees\.json does not match its recorded sha256/,
      );
      writeFileSync(trees, original);
    } finally {
      await registry.close();
    }
  });

  it('promotes only a better model with if-better, never with never', async () => {
    const worse = join(home, 'worse.json');
    writeFileSync(worse, JSON.stringify({ learningRate: [0.3], maxDepth: [1], nEstimators: [3] }));
    const r = JSON.parse(
      (await cli(['optimize', '--grid', worse, '--cv', '2', '--engine', 'wasm', '--jobs', '1', '--json'], {}, home))
        .stdout,
    );
    expect(r.version).toBe(2);
    expect(r.alias).toBeNull();
    expect(r.champion_test_f1).toBeCloseTo(first.test.f1, 6);
    expect(r.promotion).toMatch(/does not beat the champion v1/);
    const never = JSON.parse(
      (
        await cli(
          ['optimize', '--grid', grid, '--cv', '2', '--engine', 'wasm', '--promote', 'never', '--json'],
          {},
          home,
        )
      ).stdout,
    );
    expect(never).toMatchObject({ version: 3, alias: null });
    const shown = JSON.parse((await cli(['models', 'show', MODEL, '--json'], {}, home)).stdout);
    expect(shown.versions.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    expect(shown.alias_history).toEqual([
      expect.objectContaining({ alias: 'prod_best', from_version: null, to_version: 1 }),
    ]);
  });

  it('resumes a search, reusing finished trials instead of training them again', async () => {
    const r = await cli(['optimize', '--resume', first.run_id, '--promote', 'never', '--json'], {}, home);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('resuming: 2 of 2 trials already finished');
    const out = JSON.parse(r.stdout);
    expect(out.best_params).toEqual(first.best_params);
    expect(out.cv.score).toBeCloseTo(first.cv.score, 12);
    expect(JSON.parse((await cli(['runs', 'list', '--parent', out.run_id, '--json'], {}, home)).stdout)).toEqual([]);
  });

  it('compares runs side by side', async () => {
    const trials = JSON.parse((await cli(['runs', 'list', '--parent', first.run_id, '--json'], {}, home)).stdout);
    const cmp = await cli(['runs', 'compare', trials[0].id, trials[1].id, '--only-changed', '--json'], {}, home);
    const rows = JSON.parse(cmp.stdout).rows as Array<{ key: string; changed: boolean; deltas: Array<number | null> }>;
    expect(rows.every((r) => r.changed)).toBe(true);
    const depth = rows.find((r) => r.key === 'max_depth')!;
    expect(Math.abs(depth.deltas[1]!)).toBe(1);
    const md = await cli(['runs', 'compare', trials[0].id, trials[1].id, '--md'], {}, home);
    expect(md.stdout).toMatch(/^\| {2}\| key \|/);
  });

  it('runs list --help gives examples that work on the keys a search records', async () => {
    const examples = RUNS_LIST_EXAMPLES.split('\n').filter((l) => l.startsWith('  rainops runs list'));
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const line of examples) {
      const argv = [...line.trim().matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1);
      const r = await cli([...argv, '--json'], {}, home);
      expect(r.code, `${line}\n${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout).length, line).toBeGreaterThan(0);
    }
  });

  it('explains what is wrong with bad options', async () => {
    const bad = await cli(['optimize', '--cv', '1'], {}, home);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--cv: expected a whole number of at least 2');
    const badGrid = join(home, 'bad.json');
    writeFileSync(badGrid, JSON.stringify({ maxDepth: [0] }));
    const r = await cli(['optimize', '--grid', badGrid, '--engine', 'wasm'], {}, home);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('max_depth must be a whole number from 1 to 16');
    const noData = await cli(['optimize'], {}, tempDir());
    expect(noData.code).toBe(1);
    expect(noData.stderr).toContain("no data set yet; create one with 'rainops etl");
  });
});
