import { join } from 'node:path';
import type { CoreDeps } from './context.js';
import { EXPERIMENT } from './context.js';
import {
  dayText,
  type FileSink,
  writeFeatureMatrix,
  writeLabels,
  writeRawFeatures,
  writeRawLabels,
} from './dataset/csv-out.js';
import { readWeatherColumns } from './dataset/read-columns.js';
import { stageSource, sweepStaging, writeThroughFile } from './dataset/source.js';
import { dateLocationRanks, stratifiedSplitRanked, timeSplitDays } from './dataset/split.js';
import type { Split } from './dataset/split.js';
import { DataError, NotFoundError } from './errors.js';
import { sha256 } from './hash.js';
import { LOCATION_NAMES } from './features/locations.js';
import { FEATURE_NAMES, featureWriter, fitColumns } from './features/pipeline.js';
import { stagingPrefix } from './store/staging.js';
import { tracked } from './tracking.js';

/** Bumped when the files an ETL writes change, so old and new outputs never share an id. */
const DATASET_FORMAT = 2;

/** Written last; a data set folder without it was never published. */
const MANIFEST = 'manifest.json';

export interface EtlOptions {
  source: string;
  until?: string | undefined;
  testSize: number;
  seed: number;
  split: 'stratified' | 'time';
  strict: boolean;
  /** Remote sources: wait this long for the server's answer (default 30 s). */
  connectTimeoutMs?: number | undefined;
  /** Remote sources: give up after this long without a byte (default 60 s). */
  readTimeoutMs?: number | undefined;
  /** Any source: give up past this many uncompressed bytes (default 2 GiB). */
  maxSourceBytes?: number | undefined;
}

export interface ClassBalance {
  rows: number;
  positive: number;
  positiveRate: number;
}

export interface EtlResult {
  runId: string;
  datasetId: string;
  reused: boolean;
  uri: string;
  source: string;
  sourceSha256: string;
  /** `excludedByUntil`: rows dated after --until, left out (0 without --until). */
  rows: {
    total: number;
    rejected: number;
    excludedByUntil: number;
    dropped: number;
    kept: number;
    train: number;
    test: number;
  };
  rejectedByReason: Record<string, number>;
  classBalance: { train: ClassBalance; test: ClassBalance };
}

export function datasetId(sourceSha256: string, opts: EtlOptions): string {
  const key = JSON.stringify({
    f: DATASET_FORMAT,
    s: sourceSha256,
    u: opts.until ?? null,
    t: opts.testSize,
    seed: opts.seed,
    split: opts.split,
  });
  return sha256(key).slice(0, 16);
}

const balance = (labels: Uint8Array): ClassBalance => {
  const positive = labels.reduce((a, b) => a + b, 0);
  return { rows: labels.length, positive, positiveRate: labels.length ? positive / labels.length : 0 };
};

/** Extracts, validates, splits and transforms the source into a new immutable data set version. */
export async function etl(opts: EtlOptions, deps: CoreDeps): Promise<EtlResult> {
  const { registry, store, logger } = deps;
  await deps.claimStore?.();
  return tracked(registry, { experiment: EXPERIMENT, name: 'etl' }, async (run) => {
    await registry.logParams(run.id, {
      source: opts.source,
      until: opts.until ?? null,
      test_size: opts.testSize,
      seed: opts.seed,
      split: opts.split,
      strict: opts.strict,
    });
    // One read of the source: parsed, hashed and copied to a staging file (raw.csv) at the same time.
    const cache = join(deps.home, 'cache');
    const swept = await sweepStaging(cache, deps.now?.() ?? new Date());
    if (swept.length) logger.debug(`removed ${swept.length} stale staging file(s) from ${cache}`);
    logger.info(`reading ${opts.source}`);
    const limits = {
      connectTimeoutMs: opts.connectTimeoutMs,
      readTimeoutMs: opts.readTimeoutMs,
      maxBytes: opts.maxSourceBytes,
    };
    await using staged = await stageSource(opts.source, { dir: cache, limits, onInterrupt: deps.onInterrupt });
    const read = await readWeatherColumns(
      { stream: staged.stream, name: opts.source },
      { until: opts.until, strict: opts.strict },
    );
    const { sha256: sourceSha256 } = await staged.digest();
    const path = staged.path;
    const id = datasetId(sourceSha256, opts);
    const existing = (await registry.listDatasets()).find((d) => d.id === id);
    if (existing) {
      logger.info(`data set ${id} already holds this source with these split parameters; reusing it`);
      await registry.linkRunDataset(run.id, id, 'output');
      await registry.setTags(run.id, { reused: 'true', dataset_id: id });
      const manifest = JSON.parse((await store.get(`datasets/${id}/manifest.json`)).toString('utf8')) as Manifest;
      return { runId: run.id, datasetId: id, reused: true, uri: existing.uri, ...summaryOf(manifest) };
    }

    if (read.rejected > 0) {
      const reasons = Object.entries(read.rejectedByReason).sort((a, b) => b[1] - a[1]);
      logger.warn(
        `rejected ${read.rejected} of ${read.total} rows: ${reasons
          .slice(0, 5)
          .map(([r, n]) => `${n} x ${r}`)
          .join('; ')}`,
      );
    }
    const labelled = read.columns;
    if (labelled.length < 2) {
      throw new DataError(
        `etl: ${opts.source} has ${labelled.length} usable rows with RainTomorrow${opts.until ? ` on or before ${opts.until}` : ''}; at least 2 are needed to split`,
      );
    }
    const labels = labelled.rainTomorrow;
    const split: Split =
      opts.split === 'time'
        ? timeSplitDays(labelled.day, opts.testSize)
        : stratifiedSplitRanked(
            labels,
            opts.testSize,
            dateLocationRanks(opts.seed, labelled.day, labelled.location, dayText, (c) => LOCATION_NAMES[c] ?? ''),
          );
    if (split.train.length === 0 || split.test.length === 0) {
      throw new DataError(
        `etl: --test-size ${opts.testSize} leaves ${split.train.length} train and ${split.test.length} test rows; choose a size that leaves both sides non-empty`,
      );
    }
    logger.info(
      `split ${labelled.length} rows: ${split.train.length} train, ${split.test.length} test (${opts.split}, seed ${opts.seed})`,
    );
    const pipeline = fitColumns(labelled, split.train);
    if (pipeline.emptyColumns.length)
      logger.warn(`no training row has ${pipeline.emptyColumns.join(', ')}; imputed as 0 (a constant feature)`);
    const yTrain = Uint8Array.from(split.train, (i) => labels[i]!);
    const yTest = Uint8Array.from(split.test, (i) => labels[i]!);

    const summary: Manifest['summary'] = {
      source: opts.source,
      sourceSha256,
      rows: {
        total: read.total,
        rejected: read.rejected,
        excludedByUntil: read.afterUntil,
        dropped: read.unlabelled,
        kept: labelled.length,
        train: split.train.length,
        test: split.test.length,
      },
      rejectedByReason: read.rejectedByReason,
      classBalance: { train: balance(yTrain), test: balance(yTest) },
    };
    const prefix = `datasets/${id}`;
    // Written under this run's own staging prefix, then published in one step: a failure removes only
    // the staging, never a data set another run published or registered.
    const staging = stagingPrefix(run.id, prefix);
    const splitInfo = { method: opts.split, testSize: opts.testSize, seed: opts.seed, until: opts.until ?? null };
    let files: Manifest['files'] = {};
    let published: Published;
    try {
      const put = async (name: string, body: string) => {
        files[name] = await store.put(`${staging}/${name}`, body);
      };
      // Each CSV streams from the columns to a local file that the store then takes: none is ever whole in memory.
      const putCsv = async (name: string, write: (sink: FileSink) => void) => {
        files[name] = await writeThroughFile(cache, write, (file) => store.putFile(`${staging}/${name}`, file));
      };
      files['raw.csv'] = await store.putFile(`${staging}/raw.csv`, path);
      const features = featureWriter(pipeline);
      await putCsv('preprocessed/X_train.csv', (sink) => writeRawFeatures(sink, labelled, split.train));
      await putCsv('preprocessed/X_test.csv', (sink) => writeRawFeatures(sink, labelled, split.test));
      await putCsv('preprocessed/y_train.csv', (sink) => writeRawLabels(sink, labelled, split.train));
      await putCsv('preprocessed/y_test.csv', (sink) => writeRawLabels(sink, labelled, split.test));
      await putCsv('final/X_train.csv', (sink) =>
        writeFeatureMatrix(sink, FEATURE_NAMES, features, labelled, split.train),
      );
      await putCsv('final/X_test.csv', (sink) =>
        writeFeatureMatrix(sink, FEATURE_NAMES, features, labelled, split.test),
      );
      await putCsv('final/y_train.csv', (sink) => writeLabels(sink, 'RainTomorrow', yTrain));
      await putCsv('final/y_test.csv', (sink) => writeLabels(sink, 'RainTomorrow', yTest));
      await put('pipes/inputs_pipeline.json', `${JSON.stringify(pipeline, null, 1)}\n`);
      const manifest: Manifest = {
        id,
        format: DATASET_FORMAT,
        createdAt: (deps.now?.() ?? new Date()).toISOString(),
        split: splitInfo,
        features: [...FEATURE_NAMES],
        files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, { size: v.size, sha256: v.sha256 }])),
        summary,
      };
      const m = await store.put(`${staging}/${MANIFEST}`, `${JSON.stringify(manifest, null, 1)}\n`);
      published = await publishDataset(deps, staging, prefix, id, m.sha256);
      if (published.files) files = published.files;
    } catch (err) {
      await store.removePrefix(staging).catch(() => undefined);
      throw err;
    }
    await registry.registerDataset({
      id,
      source: opts.source,
      sourceSha256,
      rows: {
        raw: read.total,
        rejected: read.rejected,
        dropped: summary.rows.dropped,
        train: split.train.length,
        test: split.test.length,
      },
      split: splitInfo,
      manifestSha256: published.manifestSha256,
      uri: `${store.url}/${prefix}`,
    });
    if (published.reused) await registry.setTags(run.id, { reused: 'true' });
    await registry.linkRunDataset(run.id, id, 'output');
    await registry.setTags(run.id, { dataset_id: id });
    await registry.logMetrics(run.id, {
      rows_total: read.total,
      rows_rejected: read.rejected,
      rows_dropped: summary.rows.dropped,
      rows_train: split.train.length,
      rows_test: split.test.length,
      train_positive_rate: summary.classBalance.train.positiveRate,
      test_positive_rate: summary.classBalance.test.positiveRate,
    });
    for (const [name, f] of Object.entries(files))
      await registry.logArtifact(run.id, {
        path: name,
        size: f.size,
        sha256: f.sha256,
        uri: `${store.url}/${prefix}/${name}`,
      });
    logger.info(`wrote data set ${id} to ${store.url}/${prefix}`);
    return { runId: run.id, datasetId: id, reused: published.reused, uri: `${store.url}/${prefix}`, ...summary };
  });
}

export interface Manifest {
  id: string;
  format: number;
  createdAt: string;
  split: { method: string; testSize: number; seed: number; until: string | null };
  features: string[];
  files: Record<string, { size: number; sha256: string }>;
  summary: Omit<EtlResult, 'runId' | 'datasetId' | 'reused' | 'uri'>;
}

/** A manifest's summary; manifests written before the count was renamed call it `afterUntil`. */
function summaryOf(manifest: Manifest): Manifest['summary'] {
  const { afterUntil, ...rows } = manifest.summary.rows as Manifest['summary']['rows'] & { afterUntil?: number };
  return { ...manifest.summary, rows: { ...rows, excludedByUntil: rows.excludedByUntil ?? afterUntil ?? 0 } };
}

interface Published {
  manifestSha256: string;
  reused: boolean;
  /** The files of the data set another run published first (null when this run published its own). */
  files: Manifest['files'] | null;
}

/**
 * Publishes a staged data set. When another run published the same id first (same source, same
 * split), its files stay and are reused: the sha256 registered is that of the manifest in the store.
 */
async function publishDataset(
  deps: CoreDeps,
  staging: string,
  prefix: string,
  id: string,
  ownManifestSha256: string,
): Promise<Published> {
  const { store, logger } = deps;
  if ((await store.publish(staging, prefix, MANIFEST)) === 'published')
    return { manifestSha256: ownManifestSha256, reused: false, files: null };
  const there = await publishedManifest(deps, prefix);
  const theirs = JSON.parse(there.toString('utf8')) as Partial<Manifest>;
  if (theirs.id !== id || !theirs.files)
    throw new DataError(
      `etl: ${store.url}/${prefix}/${MANIFEST} does not describe data set ${id}; the store was changed outside rainops, so remove that folder and run etl again`,
    );
  logger.info(`another run published data set ${id} first; reusing its files`);
  return { manifestSha256: sha256(there), reused: true, files: theirs.files };
}

/** The manifest of a data set another run publishes; on S3 its files land before it, so it may take a moment. */
async function publishedManifest(deps: CoreDeps, prefix: string): Promise<Buffer> {
  const { store } = deps;
  for (let attempt = 0; ; attempt++) {
    try {
      return await store.get(`${prefix}/${MANIFEST}`);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      if (attempt >= 40) {
        throw new DataError(
          `etl: ${store.url}/${prefix} holds files but no ${MANIFEST}: a write that never finished (an older rainops, or one killed while publishing); remove it with 'rainops gc' (add --grace 0 if it is recent) and run etl again`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
