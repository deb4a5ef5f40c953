/** @jsxImportSource hono/jsx */
import type { MetricPoint, RunDetail, RunSummary } from '../registry/index.js';
import { artifactKey, head, isPlot, isPreviewable } from './artifacts.js';
import { LineChart } from './charts.js';
import type { Series } from './charts.js';
import type { UiDeps } from './deps.js';
import { fmtBytes, fmtDuration, fmtNumber, fmtTime, shortId } from './format.js';
import { Layout, StatusBadge } from './layout.js';

const PREVIEW_BYTES = 4096;
const MAX_PREVIEWS = 6;

/** Metric keys with more than one point, grouped so per-fold keys (fold0_x, fold1_x) share a chart. */
export function stepCharts(history: Record<string, MetricPoint[]>): Array<{ title: string; series: Series[] }> {
  const groups = new Map<string, Series[]>();
  for (const [key, points] of Object.entries(history)) {
    if (points.length < 2) continue;
    const m = /^(.*?)(?:[_-]?fold[_-]?(\d+))(.*)$/.exec(key);
    const group = m ? `${m[1]}fold${m[3]}` : key;
    const list = groups.get(group) ?? [];
    list.push({ name: m ? `fold ${m[2]}` : key, points: points.map((p) => [p.step, p.value]) });
    groups.set(group, list);
  }
  return [...groups].map(([title, series]) => ({ title, series }));
}

async function producedVersions(deps: UiDeps, runId: string): Promise<Array<{ model: string; version: number }>> {
  const out: Array<{ model: string; version: number }> = [];
  for (const m of await deps.registry.listModels())
    for (const v of await deps.registry.listModelVersions(m.name))
      if (v.runId === runId) out.push({ model: m.name, version: v.version });
  return out;
}

function KeyValues(props: { id: string; title: string; values: Record<string, string | number> }) {
  const keys = Object.keys(props.values).sort();
  return (
    <section id={props.id}>
      <h2>{props.title}</h2>
      {keys.length ? (
        <table class="kv">
          <tbody>
            {keys.map((k) => (
              <tr>
                <th>{k}</th>
                <td class={typeof props.values[k] === 'number' ? 'num' : undefined}>
                  {typeof props.values[k] === 'number'
                    ? fmtNumber(props.values[k] as number, 6)
                    : String(props.values[k])}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">none</p>
      )}
    </section>
  );
}

export async function runPage(deps: UiDeps, idOrPrefix: string) {
  const run: RunDetail = await deps.registry.getRun(idOrPrefix);
  const children: RunSummary[] = run.childrenCount
    ? await deps.registry.listRuns({ parentRunId: run.id, sort: 'start_time' })
    : [];
  const versions = await producedVersions(deps, run.id);
  const artifactUrl = (path: string) =>
    `/runs/${run.id}/artifacts/${path.split('/').map(encodeURIComponent).join('/')}`;
  // The ROC curve first: it is what people look for.
  const plots = run.artifacts
    .filter((a) => isPlot(a.path))
    .sort((a, b) => Number(b.path.includes('roc')) - Number(a.path.includes('roc')));
  const previews: Array<{ path: string; text: string; truncated: boolean }> = [];
  for (const a of run.artifacts.filter((x) => isPreviewable(x.path)).slice(0, MAX_PREVIEWS)) {
    const key = artifactKey(deps.store, a);
    if (!key) continue;
    try {
      previews.push({ path: a.path, ...(await head(deps.store, key, PREVIEW_BYTES)) });
    } catch (err) {
      previews.push({
        path: a.path,
        text: `(cannot read it: ${err instanceof Error ? err.message : String(err)})`,
        truncated: false,
      });
    }
  }
  const charts = stepCharts(run.metricHistory);
  return (
    <Layout title={`Run ${run.name}`}>
      <h1>
        {`Run ${run.name} `}
        <StatusBadge status={run.status} />
      </h1>
      <p class="muted">
        {run.id} · experiment <a href={`/?experiment=${encodeURIComponent(run.experiment)}`}>{run.experiment}</a>
      </p>
      {run.status === 'FAILED' && run.error ? <p class="notice bad">{`Failed: ${run.error}`}</p> : null}
      {run.status === 'RUNNING' ? (
        <p class="notice">{`Running on ${run.hostname} (pid ${run.pid}) since ${fmtTime(run.startTime)}`}</p>
      ) : null}
      <div class="grid">
        <div class="card" id="resources">
          <h3>Time and resources</h3>
          <table class="kv">
            <tbody>
              <tr>
                <th>start</th>
                <td>{fmtTime(run.startTime)}</td>
              </tr>
              <tr>
                <th>end</th>
                <td>{fmtTime(run.endTime)}</td>
              </tr>
              <tr>
                <th>duration</th>
                <td>{fmtDuration(run.durationMs)}</td>
              </tr>
              <tr>
                <th>CPU time</th>
                <td>{fmtDuration(run.cpuTimeMs)}</td>
              </tr>
              <tr>
                <th>peak memory</th>
                <td>{fmtBytes(run.peakRssBytes)}</td>
              </tr>
              <tr>
                <th>host</th>
                <td>{`${run.hostname} (pid ${run.pid})`}</td>
              </tr>
            </tbody>
          </table>
        </div>
        <div class="card" id="lineage">
          <h3>Lineage</h3>
          <ul>
            {run.parentRunId ? (
              <li>
                parent run <a href={`/runs/${run.parentRunId}`}>{shortId(run.parentRunId)}</a>
              </li>
            ) : null}
            {run.datasets.map((d) => (
              <li>
                {d.role === 'input' ? 'read data set ' : 'wrote data set '}
                <a href={`/datasets/${d.id}`}>{d.id}</a>
              </li>
            ))}
            {versions.map((v) => (
              <li>
                produced <a href={`/models/${encodeURIComponent(v.model)}`}>{`${v.model} v${v.version}`}</a>
              </li>
            ))}
            {children.length ? <li>{`${children.length} child run(s) below`}</li> : null}
          </ul>
        </div>
      </div>
      <KeyValues id="params" title="Parameters" values={run.params} />
      <KeyValues id="metrics" title="Metrics" values={run.metrics} />
      {charts.length ? (
        <section id="step-metrics">
          <h2>Step metrics</h2>
          <div class="grid">
            {charts.map((c) => (
              <figure>
                <LineChart title={c.title} series={c.series} />
              </figure>
            ))}
          </div>
        </section>
      ) : null}
      <KeyValues id="tags" title="Tags" values={run.tags} />
      {children.length ? (
        <section id="children">
          <h2>Child runs</h2>
          <table>
            <thead>
              <tr>
                <th>Status</th>
                <th>Run</th>
                <th>Start</th>
                <th class="num">Duration</th>
                <th class="num">cv_score</th>
              </tr>
            </thead>
            <tbody>
              {children.map((c) => (
                <tr>
                  <td>
                    <StatusBadge status={c.status} />
                  </td>
                  <td>
                    <a href={`/runs/${c.id}`}>{c.name}</a>
                  </td>
                  <td>{fmtTime(c.startTime)}</td>
                  <td class="num">{fmtDuration(c.durationMs)}</td>
                  <td class="num">{fmtNumber(c.metrics.cv_score)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>
            <a href={`/compare?runs=${children.map((c) => c.id).join(',')}`}>compare the child runs</a>
          </p>
        </section>
      ) : null}
      {plots.length ? (
        <section id="plots">
          <h2>Plots</h2>
          <div class="grid">
            {plots.map((a) => (
              <figure data-artifact={a.path}>
                <img src={artifactUrl(a.path)} alt={a.path} width={480} height={360} />
                <figcaption>{a.path}</figcaption>
              </figure>
            ))}
          </div>
        </section>
      ) : null}
      <section id="artifacts">
        <h2>Artifacts</h2>
        {run.artifacts.length ? (
          <table>
            <thead>
              <tr>
                <th>Path</th>
                <th class="num">Size</th>
                <th>sha256</th>
              </tr>
            </thead>
            <tbody>
              {run.artifacts.map((a) => (
                <tr>
                  <td>
                    <a href={`${artifactUrl(a.path)}?download=1`} download>
                      {a.path}
                    </a>
                  </td>
                  <td class="num">{fmtBytes(a.size)}</td>
                  <td class="muted">{a.sha256.slice(0, 16)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="muted">none</p>
        )}
        {previews.map((p) => (
          <details>
            <summary>{`${p.path}${p.truncated ? ` (first ${PREVIEW_BYTES} bytes)` : ''}`}</summary>
            <pre class="preview">{p.text}</pre>
          </details>
        ))}
      </section>
    </Layout>
  );
}
