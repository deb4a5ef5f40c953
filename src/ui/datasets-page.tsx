/** @jsxImportSource hono/jsx */
import type { Dataset } from '../registry/index.js';
import { Histogram } from './charts.js';
import type { UiDeps } from './deps.js';
import type { FeatureSummary } from './feature-summary.js';
import { fmtBytes, fmtNumber, fmtTime, shortId } from './format.js';
import { Layout, StatusBadge } from './layout.js';

interface ClassBalance {
  rows: number;
  positive: number;
  positiveRate: number;
}

/** The parts of manifest.json the page shows; anything missing is left out. */
interface Manifest {
  features?: string[];
  files?: Record<string, { size: number; sha256: string }>;
  summary?: {
    rejectedByReason?: Record<string, number>;
    classBalance?: { train?: ClassBalance; test?: ClassBalance };
  };
}

async function readManifest(deps: UiDeps, id: string): Promise<{ manifest: Manifest | null; problem: string | null }> {
  try {
    return {
      manifest: JSON.parse((await deps.store.get(`datasets/${id}/manifest.json`)).toString('utf8')) as Manifest,
      problem: null,
    };
  } catch (err) {
    return {
      manifest: null,
      problem: `manifest.json cannot be read from the store: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}

export async function datasetsListPage(deps: UiDeps) {
  const list: Dataset[] = await deps.registry.listDatasets();
  return (
    <Layout title="Data sets">
      <h1>Data sets</h1>
      <table>
        <thead>
          <tr>
            <th>Data set</th>
            <th>Created</th>
            <th class="num">Train rows</th>
            <th class="num">Test rows</th>
            <th>Split</th>
            <th>Source</th>
          </tr>
        </thead>
        <tbody>
          {list.map((d) => (
            <tr>
              <td>
                <a href={`/datasets/${d.id}`}>{d.id}</a>
              </td>
              <td>{fmtTime(d.createdAt)}</td>
              <td class="num">{d.rows.train}</td>
              <td class="num">{d.rows.test}</td>
              <td>{String(d.split.method ?? '')}</td>
              <td>{d.source}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}

function FeatureTable(props: { features: FeatureSummary[] }) {
  return (
    <table id="feature-summary">
      <thead>
        <tr>
          <th>Feature</th>
          <th class="num">Missing</th>
          <th class="num">Min</th>
          <th class="num">25 %</th>
          <th class="num">Median</th>
          <th class="num">75 %</th>
          <th class="num">Max</th>
          <th class="num">Imputed with</th>
          <th>Clipped to</th>
          <th>Histogram</th>
        </tr>
      </thead>
      <tbody>
        {props.features.map((f) => (
          <tr>
            <td>{f.name}</td>
            <td class="num">{`${fmtNumber(f.missingRate * 100, 1)}%`}</td>
            {(f.quantiles ?? [null, null, null, null, null]).map((q) => (
              <td class="num">{q === null ? '' : fmtNumber(q, 2)}</td>
            ))}
            <td class="num">{f.impute === null ? '' : fmtNumber(f.impute, 2)}</td>
            <td>{f.clip ? `${fmtNumber(f.clip.lo, 2)} to ${fmtNumber(f.clip.hi, 2)}` : ''}</td>
            <td>
              {f.quantiles ? (
                <Histogram title={f.name} counts={f.histogram} lo={f.quantiles[0]} hi={f.quantiles[4]} />
              ) : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export async function datasetPage(
  deps: UiDeps,
  idOrPrefix: string,
  summaries: (id: string) => Promise<FeatureSummary[]>,
) {
  const d = await deps.registry.getDataset(idOrPrefix);
  let features: FeatureSummary[] | null = null;
  let featureProblem: string | null = null;
  try {
    features = await summaries(d.id);
  } catch (err) {
    featureProblem = `The training rows cannot be summarized: ${err instanceof Error ? err.message : String(err)}`;
  }
  const runs = await deps.registry.runsForDataset(d.id);
  const { manifest, problem } = await readManifest(deps, d.id);
  const balance = manifest?.summary?.classBalance;
  const rejected = Object.entries(manifest?.summary?.rejectedByReason ?? {});
  return (
    <Layout title={`Data set ${d.id}`}>
      <h1>{`Data set ${d.id}`}</h1>
      <p class="muted">{`created ${fmtTime(d.createdAt)} · ${d.uri}`}</p>
      {problem ? <p class="notice bad">{problem}</p> : null}
      <div class="grid">
        <div class="card" id="rows">
          <h3>Rows</h3>
          <table class="kv">
            <tbody>
              <tr>
                <th>in source</th>
                <td class="num">{d.rows.raw}</td>
              </tr>
              <tr>
                <th>rejected by the row schema</th>
                <td class="num">{d.rows.rejected}</td>
              </tr>
              <tr>
                <th>without RainTomorrow (dropped)</th>
                <td class="num">{d.rows.dropped}</td>
              </tr>
              <tr>
                <th>train</th>
                <td class="num">{d.rows.train}</td>
              </tr>
              <tr>
                <th>test</th>
                <td class="num">{d.rows.test}</td>
              </tr>
            </tbody>
          </table>
        </div>
        <div class="card" id="split">
          <h3>Split</h3>
          <table class="kv">
            <tbody>
              {Object.entries(d.split).map(([k, v]) => (
                <tr>
                  <th>{k}</th>
                  <td>{v === null ? 'none' : String(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="card" id="balance">
          <h3>Class balance (rain tomorrow)</h3>
          {balance ? (
            <table class="kv">
              <tbody>
                {(['train', 'test'] as const).map((part) =>
                  balance[part] ? (
                    <tr>
                      <th>{part}</th>
                      <td>{`${balance[part]!.positive} of ${balance[part]!.rows} (${fmtNumber(balance[part]!.positiveRate * 100, 1)}%)`}</td>
                    </tr>
                  ) : null,
                )}
              </tbody>
            </table>
          ) : (
            <p class="muted">not recorded</p>
          )}
        </div>
        <div class="card" id="source">
          <h3>Source</h3>
          <p>{d.source}</p>
          <p>
            sha256 <code>{d.sourceSha256}</code>
          </p>
          <p class="muted">
            manifest sha256 <code>{d.manifestSha256}</code>
          </p>
        </div>
      </div>
      {rejected.length ? (
        <section>
          <h2>Rejected rows by reason</h2>
          <table>
            <tbody>
              {rejected.map(([why, n]) => (
                <tr>
                  <td>{why}</td>
                  <td class="num">{n}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
      {manifest?.files ? (
        <section id="files">
          <h2>Files</h2>
          <table>
            <thead>
              <tr>
                <th>File</th>
                <th class="num">Size</th>
                <th>sha256</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(manifest.files).map(([path, f]) => (
                <tr>
                  <td>{path}</td>
                  <td class="num">{fmtBytes(f.size)}</td>
                  <td class="muted">{f.sha256}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
      {manifest?.features ? (
        <section>
          <h2>{`Model features (${manifest.features.length})`}</h2>
          <p class="chips">
            {manifest.features.map((f) => (
              <span>{f}</span>
            ))}
          </p>
        </section>
      ) : null}
      <section id="features">
        <h2>Training rows per feature</h2>
        {features ? <FeatureTable features={features} /> : <p class="muted">{featureProblem}</p>}
      </section>
      <section id="used-by">
        <h2>Runs that used it</h2>
        <table>
          <thead>
            <tr>
              <th>Role</th>
              <th>Status</th>
              <th>Run</th>
              <th>Start</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr>
                <td>{r.role === 'input' ? 'read' : 'wrote'}</td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>
                  <a href={`/runs/${r.id}`}>{r.name}</a> <span class="muted">{shortId(r.id)}</span>
                </td>
                <td>{fmtTime(r.startTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </Layout>
  );
}
