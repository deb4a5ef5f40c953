import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRawTest } from '../../src/core/dataset/load.js';
import { loadPredictor } from '../../src/core/registration.js';
import { openStore } from '../../src/core/store/index.js';
import { openRegistry } from '../../src/registry/index.js';
import { cli, tempDir, weatherCsvText } from '../helpers/cli.js';
import { closedPort, freshBucket, startS3, type S3Target } from './s3-server.js';

const MODEL = 'Rain_dataset_model_prod';

describe('the CLI against an s3:// store', () => {
  let s3: S3Target;
  let smallCsv: string;
  const bucket = freshBucket('cli');
  const env = () => ({
    RAINOPS_STORE: `s3://${bucket}/prefix`,
    RAINOPS_S3_ENDPOINT: s3.endpoint,
    RAINOPS_S3_ACCESS_KEY: s3.accessKey,
    RAINOPS_S3_SECRET_KEY: s3.secretKey,
  });

  beforeAll(async () => {
    s3 = await startS3();
    smallCsv = join(tempDir('rainops-s3-csv-'), 'small.csv');
    // 2,000 rows spread over the file: the first 2,000 lines are all Albury, which has no Evaporation
    // at all, so etl (rightly) refuses to fit an imputer on them.
    const lines = weatherCsvText().trimEnd().split('\n');
    const step = Math.ceil((lines.length - 1) / 2000);
    writeFileSync(smallCsv, `${[lines[0], ...lines.slice(1).filter((_, i) => i % step === 0)].join('\n')}\n`);
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('runs etl and optimize into the bucket, writes nothing locally, and the model loads from it', async () => {
    const cwd = tempDir();
    const etl = await cli(['etl', '--source', smallCsv, '--json'], env(), cwd);
    expect(etl.stderr).not.toMatch(/\n\s+at /);
    expect(etl.code).toBe(0);
    const { dataset_id: datasetId } = JSON.parse(etl.stdout) as { dataset_id: string };

    const list = await cli(['datasets', 'list', '--json'], env(), cwd);
    const datasets = JSON.parse(list.stdout) as Array<{ id: string; uri: string }>;
    expect(datasets).toEqual([
      expect.objectContaining({ id: datasetId, uri: `s3://${bucket}/prefix/datasets/${datasetId}` }),
    ]);
    expect(await s3.client().statObject(bucket, `prefix/datasets/${datasetId}/manifest.json`)).toBeTruthy();

    const grid = join(cwd, 'grid.json');
    writeFileSync(grid, JSON.stringify({ learningRate: [0.3], maxDepth: [2], nEstimators: [10] }));
    const opt = await cli(
      ['optimize', '--grid', grid, '--cv', '2', '--engine', 'wasm', '--jobs', '1', '--json'],
      env(),
      cwd,
    );
    expect(opt.stderr).not.toMatch(/\n\s+at /);
    expect(opt.code).toBe(0);
    expect(JSON.parse(opt.stdout)).toMatchObject({ model: MODEL, version: 1 });

    expect(existsSync(join(cwd, '.rainops', 'store'))).toBe(false);

    // What `serve` does at start: load the promoted bundle from the store and score rows.
    const registry = await openRegistry(join(cwd, '.rainops', 'registry.db'));
    try {
      const store = openStore(env().RAINOPS_STORE, { cwd, env: env() });
      const predictor = await loadPredictor(registry, store, MODEL, 'prod_best');
      const { rows } = await loadRawTest(store, datasetId);
      const p = predictor.probabilities(rows.slice(0, 20));
      expect(p).toHaveLength(20);
      expect([...p].every((x) => x >= 0 && x <= 1)).toBe(true);
    } finally {
      await registry.close();
    }
  }, 180_000);

  it('exits 1 with a one-line reason on a wrong secret key', async () => {
    const r = await cli(['etl', '--source', smallCsv], { ...env(), RAINOPS_S3_SECRET_KEY: 'wrong' });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^rainops: \[rainops\] \[s3\] .*rejected the credentials.*RAINOPS_S3_SECRET_KEY$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 1 quickly, without a stack trace, when the endpoint is down', async () => {
    const port = await closedPort();
    const t0 = Date.now();
    const r = await cli(['etl', '--source', smallCsv], { ...env(), RAINOPS_S3_ENDPOINT: `http://127.0.0.1:${port}` });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      `rainops: [rainops] [s3] cannot reach http://127.0.0.1:${port} (ECONNREFUSED); is the server running?`,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 60_000);

  it('stops a second home on the same bucket prefix before it writes anything', async () => {
    const shared = { ...env(), RAINOPS_STORE: `s3://${bucket}/two-homes` };
    const one = tempDir();
    expect((await cli(['etl', '--source', smallCsv], shared, one)).code).toBe(0);
    const before = await s3.client().listObjectsV2(bucket, 'two-homes/', true).toArray();
    const r = await cli(['etl', '--source', smallCsv, '--seed', '7'], shared, tempDir());
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(
      new RegExp(
        `^rainops: store s3://${bucket}/two-homes belongs to registry [0-9a-f]{32} \\(${one}/\\.rainops/registry\\.db on .+\\), not to this registry`,
      ),
    );
    const after = await s3.client().listObjectsV2(bucket, 'two-homes/', true).toArray();
    expect(after.map((o: { name?: string }) => o.name)).toEqual(before.map((o: { name?: string }) => o.name));
  }, 60_000);

  it('exits 2 naming a missing setting', async () => {
    const r = await cli(['datasets', 'list'], { ...env(), RAINOPS_S3_ENDPOINT: undefined });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing RAINOPS_S3_ENDPOINT/);
  });
});
