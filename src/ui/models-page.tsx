/** @jsxImportSource hono/jsx */
import type { AliasHistoryEntry, ModelSummary, ModelVersion } from '../registry/index.js';
import { NotFoundError } from '../core/errors.js';
import type { UiDeps } from './deps.js';
import { fmtNumber, fmtTime, query, shortId } from './format.js';
import { Layout } from './layout.js';

const METRICS = ['test_f1', 'test_roc_auc', 'test_accuracy', 'test_precision', 'test_recall', 'cv_score'];

/** What the page offers for writes: nothing, a sign-in link, or forms carrying the CSRF token. */
export type Admin = { mode: 'off' } | { mode: 'signed-out' } | { mode: 'signed-in'; csrf: string };

export async function findModel(deps: UiDeps, name: string): Promise<ModelSummary> {
  const m = (await deps.registry.listModels()).find((x) => x.name === name);
  if (!m) throw new NotFoundError(`no model named ${name}; the models are listed at /models`);
  return m;
}

export async function modelsListPage(deps: UiDeps) {
  const models = await deps.registry.listModels();
  return (
    <Layout title="Models">
      <h1>Models</h1>
      {models.length ? (
        <table>
          <thead>
            <tr>
              <th>Model</th>
              <th class="num">Latest version</th>
              <th>Aliases</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {models.map((m) => (
              <tr>
                <td>
                  <a href={`/models/${encodeURIComponent(m.name)}`}>{m.name}</a>
                </td>
                <td class="num">{m.latestVersion ?? ''}</td>
                <td class="chips">
                  {Object.entries(m.aliases).map(([a, v]) => (
                    <span>{`${a} → v${v}`}</span>
                  ))}
                </td>
                <td>{fmtTime(m.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">No models yet: run 'rainops optimize'.</p>
      )}
    </Layout>
  );
}

function Timeline(props: { history: AliasHistoryEntry[] }) {
  const v = (x: number | null) => (x === null ? 'unset' : `v${x}`);
  return (
    <ol class="timeline" id="alias-history">
      {[...props.history].reverse().map((h) => (
        <li>
          <strong>{`${h.alias}: ${v(h.fromVersion)} → ${v(h.toVersion)}`}</strong>{' '}
          <span class="muted">{`${fmtTime(h.time)} by ${h.actor}`}</span>
          <div>{h.reason}</div>
        </li>
      ))}
    </ol>
  );
}

function PromoteCell(props: { model: string; v: ModelVersion; admin: Admin; champion: number | null }) {
  const { admin, v } = props;
  if (admin.mode === 'off' || v.status !== 'READY' || props.champion === v.version) return <td />;
  const href = `/models/${encodeURIComponent(props.model)}/promote${query({ version: v.version })}`;
  return (
    <td>
      <a
        href={admin.mode === 'signed-in' ? href : `/login${query({ next: href })}`}
        class="promote"
        data-version={v.version}
      >
        {'promote…'}
      </a>
    </td>
  );
}

export async function modelPage(deps: UiDeps, name: string, admin: Admin, championAlias: string, notice?: string) {
  const model = await findModel(deps, name);
  const versions = await deps.registry.listModelVersions(model.name);
  const history = await deps.registry.aliasHistory(model.name);
  const champion = model.aliases[championAlias] ?? null;
  const latest = versions.reduce<ModelVersion | null>((a, b) => (a === null || b.version > a.version ? b : a), null);
  const side = [
    champion === null ? null : versions.find((v) => v.version === champion),
    latest && latest.version !== champion ? latest : null,
  ].filter((x): x is ModelVersion => Boolean(x));
  const enc = encodeURIComponent(model.name);
  const shown = METRICS.filter((k) => versions.some((v) => v.metrics[k] !== undefined));
  return (
    <Layout title={model.name}>
      <h1>{model.name}</h1>
      {notice ? (
        <p class="notice" id="notice">
          {notice}
        </p>
      ) : null}
      <section id="aliases">
        <h2>Aliases now</h2>
        {Object.keys(model.aliases).length ? (
          <table>
            <thead>
              <tr>
                <th>Alias</th>
                <th>Version</th>
                {admin.mode === 'off' ? null : <th />}
              </tr>
            </thead>
            <tbody>
              {Object.entries(model.aliases).map(([alias, version]) => {
                const href = `/models/${enc}/rollback${query({ alias })}`;
                return (
                  <tr data-alias={alias}>
                    <td>{alias}</td>
                    <td class="alias-version">{`v${version}`}</td>
                    {admin.mode === 'off' ? null : (
                      <td>
                        <a href={admin.mode === 'signed-in' ? href : `/login${query({ next: href })}`}>
                          {'roll back…'}
                        </a>
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        ) : (
          <p class="muted">No aliases.</p>
        )}
        {admin.mode === 'off' ? (
          <p class="muted">Start the UI with --admin-token to promote and roll back from here.</p>
        ) : null}
      </section>
      {side.length === 2 ? (
        <section id="champion-challenger">
          <h2>Champion and newest version</h2>
          <table>
            <thead>
              <tr>
                <th>metric</th>
                {side.map((v) => (
                  <th class="num">{`v${v.version}${v.version === champion ? ` (${championAlias})` : ''}`}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {METRICS.filter((k) => side.some((v) => v.metrics[k] !== undefined)).map((k) => (
                <tr>
                  <td>{k}</td>
                  {side.map((v) => (
                    <td class="num">{fmtNumber(v.metrics[k])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted">
            These are each version's metrics on its own test set; the head-to-head F1 on the same test rows is shown
            before a promotion.
          </p>
        </section>
      ) : null}
      <section>
        <h2>Versions</h2>
        <table id="versions">
          <thead>
            <tr>
              <th class="num">Version</th>
              <th>Status</th>
              <th>Created</th>
              <th>Engine</th>
              <th>Data set</th>
              <th>Run</th>
              <th>Aliases</th>
              {shown.map((k) => (
                <th class="num">{k}</th>
              ))}
              {admin.mode === 'off' ? null : <th />}
            </tr>
          </thead>
          <tbody>
            {[...versions]
              .sort((a, b) => b.version - a.version)
              .map((v) => (
                <tr data-version={v.version}>
                  <td class="num">{v.version}</td>
                  <td>
                    {v.status}
                    {v.runStatus === 'FAILED' ? <span class="error"> (run FAILED)</span> : null}
                  </td>
                  <td>{fmtTime(v.createdAt)}</td>
                  <td>{v.engine}</td>
                  <td>
                    <a href={`/datasets/${v.datasetId}`}>{v.datasetId}</a>
                  </td>
                  <td>
                    <a href={`/runs/${v.runId}`}>{shortId(v.runId)}</a>
                  </td>
                  <td class="chips">
                    {v.aliases.map((a) => (
                      <span>{a}</span>
                    ))}
                  </td>
                  {shown.map((k) => (
                    <td class="num">{fmtNumber(v.metrics[k])}</td>
                  ))}
                  {admin.mode === 'off' ? null : (
                    <PromoteCell model={model.name} v={v} admin={admin} champion={champion} />
                  )}
                </tr>
              ))}
          </tbody>
        </table>
      </section>
      <section>
        <h2>Alias history</h2>
        {history.length ? <Timeline history={history} /> : <p class="muted">No alias has moved yet.</p>}
      </section>
    </Layout>
  );
}

export interface Confirmation {
  model: string;
  alias: string;
  action: 'promote' | 'rollback';
  from: number | null;
  to: number;
  /** Head-to-head F1 on the same test rows, when both versions exist and it could be computed. */
  h2h: { fromF1: number; toF1: number; rows: number; excluded: number } | null;
  h2hNote: string | null;
  csrf: string;
}

export function confirmPage(c: Confirmation) {
  const enc = encodeURIComponent(c.model);
  const v = (x: number | null) => (x === null ? 'unset' : `v${x}`);
  return (
    <Layout title={`${c.action === 'promote' ? 'Promote' : 'Roll back'} ${c.model}`}>
      <h1>{`${c.action === 'promote' ? 'Promote' : 'Roll back'}: ${c.model}@${c.alias} ${v(c.from)} → v${c.to}`}</h1>
      {c.h2h ? (
        <table id="head-to-head">
          <thead>
            <tr>
              <th>Version</th>
              <th class="num">F1 on the same test rows</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>{`${v(c.from)} (now)`}</td>
              <td class="num">{c.h2h.fromF1.toFixed(4)}</td>
            </tr>
            <tr>
              <td>{`v${c.to} (after)`}</td>
              <td class="num">{c.h2h.toF1.toFixed(4)}</td>
            </tr>
          </tbody>
        </table>
      ) : null}
      {c.h2h ? (
        <p class="muted">{`${c.h2h.rows} test rows of v${c.to}'s data set${c.h2h.excluded ? `; ${c.h2h.excluded} rows the current version trained on left out` : ''}.`}</p>
      ) : null}
      {c.h2hNote ? <p class="notice">{c.h2hNote}</p> : null}
      <form method="post" action={`/models/${enc}/${c.action}`}>
        <input type="hidden" name="csrf" value={c.csrf} />
        <input type="hidden" name="alias" value={c.alias} />
        <input type="hidden" name="version" value={String(c.to)} />
        <input type="hidden" name="expected" value={c.from === null ? '' : String(c.from)} />
        <p>
          <label>
            Reason (kept in the alias history){' '}
            <input
              type="text"
              name="reason"
              size={60}
              placeholder={c.action === 'promote' ? `promoted from the UI to v${c.to}` : 'rollback from the UI'}
            />
          </label>
        </p>
        <button type="submit" id="confirm">
          {c.action === 'promote' ? `Promote to v${c.to}` : `Roll back to v${c.to}`}
        </button>{' '}
        <a href={`/models/${enc}`}>cancel</a>
      </form>
    </Layout>
  );
}

export function loginPage(next: string, error?: string) {
  return (
    <Layout title="Sign in">
      <h1>Admin token</h1>
      {error ? <p class="notice bad">{error}</p> : null}
      <form method="post" action="/login">
        <input type="hidden" name="next" value={next} />
        <label>
          Token given to 'rainops ui --admin-token'{' '}
          <input type="password" name="token" autocomplete="current-password" required />
        </label>{' '}
        <button type="submit">Sign in</button>
      </form>
    </Layout>
  );
}
