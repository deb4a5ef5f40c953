/** @jsxImportSource hono/jsx */
import { compareRuns } from '../core/compare.js';
import { UsageError } from '../core/errors.js';
import type { RunDetail, RunSummary } from '../registry/index.js';
import { artifactKey, isPlot } from './artifacts.js';
import { LineChart, Scatter } from './charts.js';
import type { Series } from './charts.js';
import type { UiDeps } from './deps.js';
import { fmtNumber, fmtValue, shortId } from './format.js';
import { Layout, StatusBadge } from './layout.js';

const MAX_RUNS = 20;

export function parseRunIds(values: string[]): string[] {
  const ids = [
    ...new Set(
      values
        .flatMap((v) => v.split(','))
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  if (ids.length < 2)
    throw new UsageError('compare needs two or more runs: /compare?runs=ID,ID (ids or unique prefixes)');
  if (ids.length > MAX_RUNS) throw new UsageError(`compare takes at most ${MAX_RUNS} runs, not ${ids.length}`);
  return ids;
}

/** Trials to plot against their CV score: the children of the compared searches, or the compared runs themselves. */
async function trialsOf(deps: UiDeps, runs: RunDetail[]): Promise<RunSummary[]> {
  const children: RunSummary[] = [];
  for (const r of runs) if (r.childrenCount) children.push(...(await deps.registry.listRuns({ parentRunId: r.id })));
  const pool: RunSummary[] = children.length ? children : runs;
  return pool.filter((r) => typeof r.metrics.cv_score === 'number');
}

function scatters(trials: RunSummary[]) {
  if (trials.length < 2) return [];
  const keys = [...new Set(trials.flatMap((t) => Object.keys(t.params)))].sort();
  return keys.flatMap((k) => {
    const points = trials.flatMap((t) => {
      const x = Number(t.params[k]);
      return t.params[k] !== undefined && Number.isFinite(x) ? [{ x, y: t.metrics.cv_score!, label: t.name }] : [];
    });
    const distinct = new Set(points.map((p) => p.x)).size;
    return points.length >= 2 && distinct >= 2 && k !== 'trial' ? [{ key: k, points }] : [];
  });
}

interface Curves {
  roc: Array<[number, number]>;
  precision_recall: Array<[number, number]>;
}

/** The curve points a run stored (curves.json), or null for runs written before it was stored. */
async function curvesOf(deps: UiDeps, run: RunDetail): Promise<Curves | null> {
  const a = run.artifacts.find((x) => x.path === 'curves.json');
  const key = a ? artifactKey(deps.store, a) : null;
  if (!key) return null;
  try {
    const c = JSON.parse((await deps.store.get(key)).toString('utf8')) as Partial<Curves>;
    return Array.isArray(c.roc) && Array.isArray(c.precision_recall) ? (c as Curves) : null;
  } catch {
    return null;
  }
}

function Delta(props: { d: number | null; first: boolean }) {
  if (props.first || props.d === null) return null;
  if (props.d === 0) return <span class="muted"> (=)</span>;
  return (
    <span class={props.d > 0 ? 'delta-pos' : 'delta-neg'}>{` (${props.d > 0 ? '+' : ''}${fmtNumber(props.d)})`}</span>
  );
}

export async function comparePage(deps: UiDeps, ids: string[], onlyChanged: boolean) {
  const runs: RunDetail[] = [];
  for (const id of ids) runs.push(await deps.registry.getRun(id));
  const cmp = compareRuns(runs, false);
  const trials = await trialsOf(deps, runs);
  const plots = scatters(trials);
  const idsParam = runs.map((r) => r.id).join(',');
  const curves = await Promise.all(runs.map((r) => curvesOf(deps, r)));
  const overlay = (pick: (c: Curves) => Array<[number, number]>): Series[] =>
    runs.flatMap((r, i) => {
      const c = curves[i];
      return c ? [{ name: `${r.name} ${shortId(r.id)}`, points: pick(c) }] : [];
    });
  const rocSeries = overlay((c) => c.roc);
  const prSeries = overlay((c) => c.precision_recall);
  return (
    <Layout title="Compare runs" bodyClass={onlyChanged ? 'only-changed' : undefined}>
      <h1>{`Compare ${runs.length} runs`}</h1>
      <form method="get" action="/compare" class="filters">
        <input type="hidden" name="runs" value={idsParam} />
        <label>
          <span>
            <input
              type="checkbox"
              name="changed"
              value="1"
              checked={onlyChanged}
              data-toggle-class="only-changed"
              id="only-changed"
            />{' '}
            only what changed
          </span>
        </label>
        <noscript>
          <button type="submit">Apply</button>
        </noscript>
      </form>
      <table id="compare">
        <thead>
          <tr>
            <th>key</th>
            {runs.map((r) => (
              <th>
                <a href={`/runs/${r.id}`}>{r.name}</a> <span class="muted">{shortId(r.id)}</span>{' '}
                <StatusBadge status={r.status} />
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {(['param', 'metric'] as const).map((kind) => (
            <>
              <tr>
                <th colspan={runs.length + 1}>{kind === 'param' ? 'Parameters' : 'Metrics'}</th>
              </tr>
              {cmp.rows
                .filter((row) => row.kind === kind)
                .map((row) => (
                  <tr class={row.changed ? 'changed' : 'same'} data-key={`${kind}s.${row.key}`}>
                    <td>{row.key}</td>
                    {row.values.map((v, i) => (
                      <td class={typeof v === 'number' ? 'num' : undefined}>
                        {fmtValue(v)}
                        <Delta d={row.deltas[i] ?? null} first={i === 0} />
                      </td>
                    ))}
                  </tr>
                ))}
            </>
          ))}
        </tbody>
      </table>
      <p class="muted">Deltas are against the first run.</p>
      <section id="curves">
        <h2>ROC and precision-recall</h2>
        {rocSeries.length ? (
          <div class="grid">
            <figure id="roc-overlay">
              <LineChart
                title="ROC curves"
                series={rocSeries}
                xLabel="false positive rate"
                yLabel="true positive rate"
              />
            </figure>
            <figure id="pr-overlay">
              <LineChart title="Precision-recall curves" series={prSeries} xLabel="recall" yLabel="precision" />
            </figure>
          </div>
        ) : null}
        {rocSeries.length < runs.length ? (
          <div class="grid">
            {runs
              .filter((_, i) => !curves[i])
              .flatMap((r) =>
                r.artifacts
                  .filter((a) => isPlot(a.path) && /roc|precision_recall/.test(a.path))
                  .map((a) => (
                    <figure>
                      <img
                        src={`/runs/${r.id}/artifacts/${a.path.split('/').map(encodeURIComponent).join('/')}`}
                        alt={`${r.name} ${a.path}`}
                        width={480}
                        height={360}
                      />
                      <figcaption>{`${r.name} (${shortId(r.id)}): ${a.path}`}</figcaption>
                    </figure>
                  )),
              )}
          </div>
        ) : null}
      </section>
      {plots.length ? (
        <section id="trials">
          <h2>{`Hyperparameters against CV score (${trials.length} trials)`}</h2>
          <div class="grid">
            {plots.map((p) => (
              <figure>
                <Scatter title={p.key} xLabel={p.key} yLabel="cv_score" points={p.points} />
              </figure>
            ))}
          </div>
        </section>
      ) : null}
    </Layout>
  );
}
