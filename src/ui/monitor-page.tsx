/** @jsxImportSource hono/jsx */
import { EXPERIMENT } from '../core/context.js';
import { NotFoundError, RainopsError } from '../core/errors.js';
import { DEFAULT_THRESHOLDS, verdictOf } from '../core/monitor/drift.js';
import type { DriftThresholds, Verdict } from '../core/monitor/drift.js';
import type { RunDetail, RunSummary } from '../registry/index.js';
import type { UiDeps } from './deps.js';
import { fmtNumber, fmtTime, shortId } from './format.js';
import { Layout, StatusBadge } from './layout.js';

/** The run name `rainops monitor` (and `pipeline --retrain-when drift`) records its checks under. */
export const MONITOR_RUN = 'monitor';

/** Figures recorded per input as `<figure>.<feature>` (see core/monitor/monitor.ts). */
export interface InputDrift {
  feature: string;
  test: 'ks' | 'chi2' | '';
  psi: number;
  statistic: number | null;
  pValue: number | null;
  missingChange: number | null;
  verdict: Verdict;
}

const num = (s: string | undefined): number | null => {
  if (s === undefined || s.trim() === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
};

/** The thresholds the run was checked with, from its params; the defaults where a param is missing. */
function thresholdsOf(run: RunSummary): DriftThresholds {
  return {
    psi: num(run.params.psi_threshold) ?? DEFAULT_THRESHOLDS.psi,
    pValue: num(run.params.p_value) ?? DEFAULT_THRESHOLDS.pValue,
    missing: num(run.params.missing_threshold) ?? DEFAULT_THRESHOLDS.missing,
  };
}

/** Per-input rows from the run's metrics: drifted ones first, then those to watch, each by PSI descending. */
export function inputDrift(run: RunSummary): InputDrift[] {
  const m = run.metrics;
  const t = thresholdsOf(run);
  const rank: Record<Verdict, number> = { drifted: 0, watch: 1, stable: 2 };
  const rows = Object.keys(m)
    .filter((k) => k.startsWith('psi.'))
    .map((k): InputDrift => {
      const feature = k.slice('psi.'.length);
      const psi = m[k]!;
      const test = m[`ks.${feature}`] !== undefined ? 'ks' : m[`chi2.${feature}`] !== undefined ? 'chi2' : '';
      const pValue = m[`p_value.${feature}`] ?? null;
      const missingChange = m[`missing_change.${feature}`] ?? null;
      // The run records drifted or not; "watch" is derived with the thresholds it ran with.
      const drifted = m[`drifted.${feature}`];
      const derived = verdictOf(psi, pValue ?? 0, missingChange ?? 0, t);
      const verdict: Verdict =
        drifted === 1 ? 'drifted' : drifted === 0 ? (derived === 'drifted' ? 'stable' : derived) : derived;
      return { feature, test, psi, statistic: test ? m[`${test}.${feature}`]! : null, pValue, missingChange, verdict };
    });
  return rows.sort((a, b) => rank[a.verdict] - rank[b.verdict] || b.psi - a.psi || a.feature.localeCompare(b.feature));
}

/** Monitor runs, newest first. */
async function monitorRuns(deps: UiDeps): Promise<RunSummary[]> {
  // Runs filter on params, metrics and tags only, so the name is matched here.
  const runs = await deps.registry.listRuns({ experiment: EXPERIMENT, topLevelOnly: true });
  return runs.filter((r) => r.name === MONITOR_RUN);
}

/** The registered test F1 of each version checked, looked up once per version; null when it has none or is gone. */
function registeredF1(deps: UiDeps) {
  const cache = new Map<string, Promise<number | null>>();
  const lookup = async (model: string, version: number): Promise<number | null> => {
    try {
      const mv = await deps.registry.getModelVersion(model, version);
      return typeof mv.metrics.test_f1 === 'number' ? mv.metrics.test_f1 : null;
    } catch (err) {
      if (err instanceof RainopsError) return null;
      throw err;
    }
  };
  return (run: RunSummary): Promise<number | null> => {
    const model = run.params.model;
    const version = num(run.params.version);
    if (!model || version === null) return Promise.resolve(null);
    const key = `${model}\u0000${version}`;
    let p = cache.get(key);
    if (!p) {
      p = lookup(model, version);
      cache.set(key, p);
    }
    return p;
  };
}

const pct = (share: number | undefined) => (share === undefined ? '' : `${(share * 100).toFixed(0)}%`);

function DatasetVerdict(props: { run: RunSummary }) {
  const d = props.run.metrics.dataset_drifted;
  if (d === undefined) return <span class="muted">-</span>;
  return d === 1 ? <span class="verdict drifted">drifted</span> : <span class="verdict ok">ok</span>;
}

function Against(props: { run: RunSummary }) {
  const { against, source } = props.run.params;
  if (!against) return <span class="muted">-</span>;
  if (against === 'dataset' && source) return <a href={`/datasets/${encodeURIComponent(source)}`}>{source}</a>;
  return <span>{source ? `${against}: ${source}` : against}</span>;
}

function ModelChecked(props: { run: RunSummary }) {
  const { model, version } = props.run.params;
  if (!model) return <span class="muted">-</span>;
  return <a href={`/models/${encodeURIComponent(model)}`}>{version ? `${model} v${version}` : model}</a>;
}

function RunsTable(props: { runs: RunSummary[]; registered: Array<number | null>; selected: string | null }) {
  return (
    <div class="scroll">
      <table id="monitor-runs">
        <thead>
          <tr>
            <th>Time</th>
            <th>Status</th>
            <th>Model checked</th>
            <th>Against</th>
            <th>Data set</th>
            <th class="num">Inputs drifted</th>
            <th class="num">Estimated F1</th>
            <th class="num">F1 (labels)</th>
            <th class="num">Registered F1</th>
            <th>Run</th>
          </tr>
        </thead>
        <tbody>
          {props.runs.map((r, i) => {
            const inputs = Object.keys(r.metrics).filter((k) => k.startsWith('psi.')).length;
            const drifted = r.metrics.features_drifted;
            return (
              <tr data-run={r.id} class={r.id === props.selected ? 'selected' : undefined}>
                <td class="time">
                  <a href={`/monitor?run=${encodeURIComponent(r.id)}`}>{fmtTime(r.startTime)}</a>
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>
                  <ModelChecked run={r} />
                </td>
                <td>
                  <Against run={r} />
                </td>
                <td>
                  <DatasetVerdict run={r} />
                </td>
                <td class="num">
                  {r.metrics.share_drifted === undefined
                    ? ''
                    : `${pct(r.metrics.share_drifted)}${drifted !== undefined && inputs ? ` (${drifted} of ${inputs})` : ''}`}
                </td>
                <td class="num">{fmtNumber(r.metrics.estimated_f1)}</td>
                <td class="num">{fmtNumber(r.metrics.f1)}</td>
                <td class="num">{fmtNumber(props.registered[i])}</td>
                <td>
                  <a href={`/runs/${r.id}`}>{shortId(r.id)}</a>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

const yesNo = (v: number | undefined, yes: string, no: string) => (v === undefined ? '-' : v === 1 ? yes : no);

function Summary(props: { run: RunDetail; registered: number | null }) {
  const m = props.run.metrics;
  const rows: Array<[string, string]> = [
    ['verdict', yesNo(m.drifted, 'drift or decay past the thresholds', 'nothing past the thresholds')],
    ['inputs', yesNo(m.dataset_drifted, 'drifted', 'ok')],
    ['predictions', `${yesNo(m.prediction_drifted, 'drifted', 'ok')}, PSI ${fmtNumber(m.prediction_psi)}`],
    ['rain rate', `${fmtNumber(m.rain_rate_reference, 3)} (test rows) -> ${fmtNumber(m.rain_rate_current, 3)}`],
    ['quality', yesNo(m.decayed, 'decayed', 'ok')],
    [
      'F1',
      `${m.f1 !== undefined ? `${fmtNumber(m.f1)} (labels), ` : ''}${fmtNumber(m.estimated_f1)} (estimated) vs ${props.registered === null ? 'no registered F1' : `${fmtNumber(props.registered)} registered`}`,
    ],
    [
      'calibration',
      `ECE ${fmtNumber(m.calibration_ece)}, estimated minus real F1 ${fmtNumber(m.calibration_estimate_error)}`,
    ],
    ['rows', `${fmtNumber(m.reference_rows)} reference, ${fmtNumber(m.current_rows)} current`],
  ];
  return (
    <table class="kv" id="monitor-summary">
      <tbody>
        {rows.map(([k, v]) => (
          <tr>
            <th>{k}</th>
            <td>{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function InputsTable(props: { rows: InputDrift[]; histogram: (feature: string) => string | null }) {
  return (
    <div class="scroll">
      <table id="monitor-inputs">
        <thead>
          <tr>
            <th>Input</th>
            <th>Test</th>
            <th class="num">PSI</th>
            <th class="num">Statistic</th>
            <th class="num">p-value</th>
            <th class="num">Missing-rate change</th>
            <th>Verdict</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((f) => {
            const h = props.histogram(f.feature);
            return (
              <tr class={f.verdict === 'stable' ? undefined : f.verdict} data-feature={f.feature}>
                <td>{h ? <a href={h}>{f.feature}</a> : f.feature}</td>
                <td>{f.test}</td>
                <td class="num">{fmtNumber(f.psi)}</td>
                <td class="num">{fmtNumber(f.statistic)}</td>
                <td class="num">{fmtNumber(f.pValue)}</td>
                <td class="num">{fmtNumber(f.missingChange, 3)}</td>
                <td>{f.verdict}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

const artifactUrl = (runId: string, path: string) =>
  `/runs/${runId}/artifacts/${path.split('/').map(encodeURIComponent).join('/')}`;

function Detail(props: { run: RunDetail; registered: number | null }) {
  const { run } = props;
  const has = new Set(run.artifacts.map((a) => a.path));
  const url = (path: string) => (has.has(path) ? artifactUrl(run.id, path) : null);
  const rows = inputDrift(run);
  const t = thresholdsOf(run);
  const charts = [
    { path: 'monitor/psi.svg', caption: 'PSI per input' },
    { path: 'monitor/quality.svg', caption: 'quality by month' },
  ].filter((c) => has.has(c.path));
  const report = url('monitor/report.html');
  return (
    <section id="monitor-run" data-run={run.id}>
      <h2>
        {`${run.params.model ?? 'model'}${run.params.version ? ` v${run.params.version}` : ''}, ${fmtTime(run.startTime)} `}
        <StatusBadge status={run.status} />
      </h2>
      <p class="muted">
        run <a href={`/runs/${run.id}`}>{run.id}</a>
        {run.params.since || run.params.until
          ? ` · rows from ${run.params.since || 'the start'} to ${run.params.until || 'the end'}`
          : ''}
        {report ? (
          <>
            {' · '}
            <a href={`${report}?download=1`}>download the report</a>
          </>
        ) : null}
      </p>
      {run.status === 'FAILED' && run.error ? <p class="notice bad">{`Failed: ${run.error}`}</p> : null}
      {run.metrics.drifted !== undefined ? <Summary run={run} registered={props.registered} /> : null}
      <h3>Inputs</h3>
      {rows.length ? (
        <>
          <InputsTable rows={rows} histogram={(f) => url(`monitor/features/${f}.svg`)} />
          <p class="muted">{`drifted: PSI >= ${t.psi} with p < ${t.pValue}, or the missing rate moved ${t.missing} or more; watch: PSI >= ${t.psi / 2}`}</p>
        </>
      ) : (
        <p class="muted">this run recorded no per-input figures</p>
      )}
      {charts.length ? (
        <div class="grid">
          {charts.map((c) => (
            <figure data-artifact={c.path}>
              <img src={artifactUrl(run.id, c.path)} alt={c.caption} />
              <figcaption>{c.caption}</figcaption>
            </figure>
          ))}
        </div>
      ) : null}
    </section>
  );
}

/** `/monitor`: every monitor run, newest first, and the newest (or `?run=ID`) in detail. */
export async function monitorPage(deps: UiDeps, runParam: string | undefined) {
  const runs = await monitorRuns(deps);
  const f1 = registeredF1(deps);
  const registered = await Promise.all(runs.map(f1));
  let selected: RunDetail | null = null;
  if (runParam) {
    selected = await deps.registry.getRun(runParam);
    if (selected.name !== MONITOR_RUN)
      throw new NotFoundError(`run ${selected.id} is a ${selected.name} run, not a monitor run; pick one on /monitor`);
  } else {
    // The newest run that got as far as its figures; a running or early-failed one has none to show.
    const newest = runs.find((r) => r.metrics.drifted !== undefined) ?? runs[0];
    if (newest) selected = await deps.registry.getRun(newest.id);
  }
  return (
    <Layout title="Monitor">
      <h1>Monitor</h1>
      {runs.length ? (
        <RunsTable runs={runs} registered={registered} selected={selected?.id ?? null} />
      ) : (
        <p class="notice" id="monitor-empty">
          no monitor runs yet: run 'rainops monitor'
        </p>
      )}
      {selected ? <Detail run={selected} registered={await f1(selected)} /> : null}
    </Layout>
  );
}
