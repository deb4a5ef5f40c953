import type { Predictor } from '../bundle/predictor.js';
import type { CoreDeps } from '../context.js';
import { EXPERIMENT } from '../context.js';
import { DataError, NotFoundError } from '../errors.js';
import { loadPredictor } from '../registration.js';
import { tracked } from '../tracking.js';
import { DEFAULT_THRESHOLDS, featureDrift, predictionDrift } from './drift.js';
import type { DriftThresholds, FeatureDrift, PredictionDrift } from './drift.js';
import { calibration, qualityByMonth } from './quality.js';
import type { Calibration, QualityRow } from './quality.js';
import { histogramSvg, psiBarsSvg, qualitySvg, reportHtml } from './report.js';
import {
  keysOf,
  readCsvSource,
  readDatasetPart,
  readPredictionLog,
  resolveCurrentDataset,
  selectRows,
} from './sources.js';
import type { Against } from './sources.js';
import { featureInput } from './table.js';
import type { Table } from './table.js';

export interface MonitorOptions {
  model: string;
  alias: string;
  /** Null: the newest data set. */
  against: Against | null;
  since?: string | undefined;
  until?: string | undefined;
  thresholds?: Partial<DriftThresholds>;
  /** Decay: current F1 (real, or estimated without labels) this far below the registered test F1. */
  f1Drop?: number;
  /** Drift of the data set: more than this share of the features drifted (default 0: any one). */
  share?: number;
}

/** Below this many rows a quality figure is too noisy to call decay. */
export const MIN_QUALITY_ROWS = 200;

export interface MonitorResult {
  runId: string;
  model: string;
  version: number;
  reference: { datasetId: string; rows: number };
  current: { kind: string; source: string; rows: number; labelled: number; excludedTrainingRows: number };
  thresholds: DriftThresholds & { f1Drop: number; share: number };
  /** Anything past a threshold: data set drift, prediction drift or decay. The exit code is 3 when true. */
  drifted: boolean;
  dataset: { features: number; driftedFeatures: number; watchFeatures: number; shareDrifted: number; drifted: boolean };
  features: Array<Omit<FeatureDrift, 'bins'>>;
  prediction: PredictionDrift;
  quality: {
    testF1: number | null;
    labelled: boolean;
    overall: QualityRow;
    months: QualityRow[];
    decayed: boolean;
  };
  calibration: Calibration & { on: string };
  report: string;
  artifacts: string[];
}

async function probabilitiesOf(t: Table, predictor: Predictor): Promise<Float64Array> {
  const out = new Float64Array(t.n);
  const pipeline = predictor.bundle.pipeline;
  const chunk = 4096;
  for (let i = 0; i < t.n; i += chunk) {
    const rows = [];
    for (let k = i; k < Math.min(t.n, i + chunk); k++) rows.push(featureInput(t, k, pipeline));
    out.set(predictor.probabilities(rows), i);
  }
  return out;
}

interface Current {
  table: Table;
  kind: string;
  source: string;
  excluded: number;
}

async function loadCurrent(opts: MonitorOptions, deps: CoreDeps, championDataset: string): Promise<Current> {
  const inRange = (t: Table) =>
    selectRows(t, (i) => {
      const d = t.date[i] ?? null;
      return (!opts.since || (d !== null && d >= opts.since)) && (!opts.until || (d !== null && d <= opts.until));
    });
  const a = opts.against;
  if (a?.kind === 'predictions') {
    const { table, files } = await readPredictionLog(deps.store, opts.model, opts.since, opts.until);
    deps.logger.info(`read ${table.n} logged predictions from ${files} file(s)`);
    return { table, kind: 'predictions', source: `${deps.store.url}/predictions/${opts.model}`, excluded: 0 };
  }
  if (a?.kind === 'file')
    return { table: inRange(await readCsvSource(a.source)), kind: 'file', source: a.source, excluded: 0 };
  const id = await resolveCurrentDataset(deps.registry, a?.kind === 'dataset' ? a.id : undefined);
  let table = inRange(await readDatasetPart(deps.store, id, 'test'));
  let excluded = 0;
  if (id !== championDataset) {
    // An earlier data set's training rows can be a later one's test rows: the champion has seen those.
    const seen = keysOf(await readDatasetPart(deps.store, championDataset, 'train'));
    const before = table.n;
    const t = table;
    table = selectRows(t, (i) => !seen.has(`${t.date[i]}|${t.cat.Location[i]}`));
    excluded = before - table.n;
  }
  return { table, kind: 'dataset', source: id, excluded };
}

/** `rainops monitor`: the champion's training rows against current rows: drift per input, prediction drift, quality. */
export async function monitor(opts: MonitorOptions, deps: CoreDeps): Promise<MonitorResult> {
  const { registry, store, logger } = deps;
  await deps.claimStore?.();
  const version = await registry.getAlias(opts.model, opts.alias);
  if (version === null)
    throw new NotFoundError(`model ${opts.model} has no alias ${opts.alias}; train one with 'rainops optimize'`);
  const mv = await registry.getModelVersion(opts.model, version);
  const thresholds: DriftThresholds = { ...DEFAULT_THRESHOLDS, ...opts.thresholds };
  const f1Drop = opts.f1Drop ?? 0.05;
  const share = opts.share ?? 0;

  return tracked(registry, { experiment: EXPERIMENT, name: 'monitor' }, async (run) => {
    await registry.linkRunDataset(run.id, mv.datasetId, 'input');
    const predictor = await loadPredictor(registry, store, opts.model, version);
    const reference = await readDatasetPart(store, mv.datasetId, 'train');
    const current = await loadCurrent(opts, deps, mv.datasetId);
    if (current.table.n === 0)
      throw new DataError(
        `monitor: no current rows to compare${opts.since || opts.until ? ' in the --since/--until range' : ''}; pass --against with rows the champion did not train on`,
      );
    await registry.logParams(run.id, {
      model: opts.model,
      version,
      alias: opts.alias,
      reference_dataset_id: mv.datasetId,
      against: current.kind,
      source: current.source,
      since: opts.since ?? '',
      until: opts.until ?? '',
      psi_threshold: thresholds.psi,
      p_value: thresholds.pValue,
      missing_threshold: thresholds.missing,
      f1_drop: f1Drop,
      share,
    });
    logger.info(
      `${opts.model} v${version}: ${reference.n} training rows of ${mv.datasetId} against ${current.table.n} current rows (${current.source})`,
    );
    const features = featureDrift(reference, current.table, thresholds);

    // The champion's own test rows: the reference for its predictions and the labelled rows for calibration.
    const test = await readDatasetPart(store, mv.datasetId, 'test');
    const pTest = await probabilitiesOf(test, predictor);
    const yTest = Float64Array.from(test.label);
    const logged = current.table.logged;
    const pCur = Number.isNaN(logged[0] ?? Number.NaN)
      ? await probabilitiesOf(current.table, predictor)
      : Float64Array.from(logged);
    const threshold = predictor.threshold;
    const prediction = predictionDrift(pTest, pCur, threshold, thresholds);

    const labelledIdx: number[] = [];
    for (let i = 0; i < current.table.n; i++) if (current.table.label[i]! >= 0) labelledIdx.push(i);
    const labelled = labelledIdx.length > 0;
    const q = qualityByMonth(current.table.date, current.table.label, pCur, threshold);
    const cal = labelled
      ? {
          ...calibration(
            labelledIdx.map((i) => current.table.label[i]!),
            labelledIdx.map((i) => pCur[i]!),
            threshold,
          ),
          on: 'current labelled rows',
        }
      : { ...calibration(yTest, pTest, threshold), on: `the champion's test rows (${mv.datasetId})` };
    const testF1 = typeof mv.metrics.test_f1 === 'number' ? mv.metrics.test_f1 : null;
    const nowF1 = labelled ? q.overall.f1 : q.overall.estimatedF1;
    const qualityRows = labelled ? q.overall.labelled : q.overall.rows;
    const decayed = testF1 !== null && nowF1 !== null && qualityRows >= MIN_QUALITY_ROWS && nowF1 < testF1 - f1Drop;

    const nDrifted = features.filter((f) => f.drifted).length;
    const shareDrifted = nDrifted / features.length;
    const datasetDrifted = shareDrifted > share;
    const drifted = datasetDrifted || prediction.drifted || decayed;

    // Every figure as a metric: per feature under `<figure>.<feature>`, per month with the month as the step.
    const m: Record<string, number> = {
      drifted: Number(drifted),
      dataset_drifted: Number(datasetDrifted),
      share_drifted: shareDrifted,
      features_drifted: nDrifted,
      current_rows: current.table.n,
      reference_rows: reference.n,
      prediction_psi: prediction.psi,
      prediction_ks: prediction.ksStatistic,
      prediction_p_value: prediction.pValue,
      prediction_drifted: Number(prediction.drifted),
      rain_rate_reference: prediction.rainRateReference,
      rain_rate_current: prediction.rainRateCurrent,
      estimated_f1: q.overall.estimatedF1,
      calibration_ece: cal.ece,
      calibration_estimate_error: cal.estimateError,
      decayed: Number(decayed),
    };
    if (q.overall.f1 !== null) m.f1 = q.overall.f1;
    if (q.overall.precision !== null) m.precision = q.overall.precision;
    if (q.overall.recall !== null) m.recall = q.overall.recall;
    if (q.overall.rocAuc !== null) m.roc_auc = q.overall.rocAuc;
    for (const f of features) {
      m[`psi.${f.feature}`] = f.psi;
      m[`${f.test}.${f.feature}`] = f.statistic;
      m[`p_value.${f.feature}`] = f.pValue;
      m[`missing_change.${f.feature}`] = f.missingChange;
      m[`drifted.${f.feature}`] = Number(f.drifted);
    }
    await registry.logMetrics(run.id, m);
    for (const row of q.months) {
      const step = Number(row.month.replace('-', ''));
      const monthly: Record<string, number> = { month_rows: row.rows, month_estimated_f1: row.estimatedF1 };
      if (row.f1 !== null) monthly.month_f1 = row.f1;
      if (row.precision !== null) monthly.month_precision = row.precision;
      if (row.recall !== null) monthly.month_recall = row.recall;
      if (row.rocAuc !== null) monthly.month_roc_auc = row.rocAuc;
      await registry.logMetrics(run.id, monthly, step);
    }
    await registry.setTags(run.id, {
      drifted: String(drifted),
      drifted_features: features
        .filter((f) => f.drifted)
        .map((f) => f.feature)
        .join(',')
        .slice(0, 500),
    });

    const charts: Record<string, string> = {
      'monitor/psi.svg': psiBarsSvg(features, thresholds.psi),
      'monitor/quality.svg': qualitySvg(q.months, testF1),
    };
    for (const f of features) charts[`monitor/features/${f.feature}.svg`] = histogramSvg(f);
    const summary: Array<[string, string]> = [
      ['model', `${opts.model} v${version} (${opts.alias})`],
      ['reference', `${reference.n} training rows of data set ${mv.datasetId}`],
      ['current', `${current.table.n} rows (${current.kind}: ${current.source})`],
      ['verdict', drifted ? 'DRIFT OR DECAY' : 'nothing past the thresholds'],
      ['drifted features', `${nDrifted} of ${features.length}`],
      ['prediction PSI', prediction.psi.toFixed(4)],
      [
        'F1',
        `${nowF1?.toFixed(4) ?? '-'} (${labelled ? 'real' : 'estimated'}) vs registered ${testF1?.toFixed(4) ?? '-'}`,
      ],
    ];
    charts['monitor/report.html'] = reportHtml(`rainops monitor: ${opts.model} v${version}`, summary, [
      charts['monitor/psi.svg']!,
      charts['monitor/quality.svg']!,
      ...features.map((f) => charts[`monitor/features/${f.feature}.svg`]!),
    ]);
    const artifacts: string[] = [];
    for (const [path, body] of Object.entries(charts)) {
      const key = `runs/${run.id}/${path}`;
      const r = await store.put(key, body);
      await registry.logArtifact(run.id, { path, size: r.size, sha256: r.sha256, uri: `${store.url}/${key}` });
      artifacts.push(path);
    }
    return {
      runId: run.id,
      model: opts.model,
      version,
      reference: { datasetId: mv.datasetId, rows: reference.n },
      current: {
        kind: current.kind,
        source: current.source,
        rows: current.table.n,
        labelled: labelledIdx.length,
        excludedTrainingRows: current.excluded,
      },
      thresholds: { ...thresholds, f1Drop, share },
      drifted,
      dataset: {
        features: features.length,
        driftedFeatures: nDrifted,
        watchFeatures: features.filter((f) => f.verdict === 'watch').length,
        shareDrifted,
        drifted: datasetDrifted,
      },
      features: features.map(({ bins: _bins, ...f }) => f),
      prediction,
      quality: { testF1, labelled, overall: q.overall, months: q.months, decayed },
      calibration: cal,
      report: `${store.url}/runs/${run.id}/monitor/report.html`,
      artifacts,
    };
  });
}
