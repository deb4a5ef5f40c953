/** @jsxImportSource hono/jsx */
import { NotFoundError, UsageError } from '../core/errors.js';
import type { ExperimentSummary, RunStatus, RunSummary } from '../registry/index.js';
import type { UiDeps } from './deps.js';
import { PAGE_SIZE } from './deps.js';
import { fmtDuration, fmtNumber, fmtTime, query, shortId } from './format.js';
import { Layout, StatusBadge } from './layout.js';

export interface RunsQuery {
  experiment?: string | undefined;
  status?: string | undefined;
  /** The CLI's --filter expressions; several may come in one value separated by `;`. */
  filters: string[];
  sort?: string | undefined;
  page: number;
  all: boolean;
}

const STATUSES: readonly RunStatus[] = ['RUNNING', 'FINISHED', 'FAILED'];
const METRIC_FIRST = ['test_f1', 'cv_score', 'test_roc_auc', 'test_accuracy', 'cv_f1', 'test_log_loss'];
const PARAM_FIRST = ['search', 'max_depth', 'learning_rate', 'n_estimators', 'trial', 'engine', 'model_kind'];
const MAX_METRIC_COLUMNS = 6;
const MAX_PARAM_COLUMNS = 5;

/** The keys shown as columns: the preferred ones the runs have, then the rest alphabetically, up to `max`. */
function pickKeys(
  runs: readonly RunSummary[],
  pick: (r: RunSummary) => Record<string, unknown>,
  first: string[],
  max: number,
  skip: string[] = [],
): string[] {
  const have = new Set(runs.flatMap((r) => Object.keys(pick(r))));
  for (const s of skip) have.delete(s);
  const ordered = [...first.filter((k) => have.has(k)), ...[...have].filter((k) => !first.includes(k)).sort()];
  return ordered.slice(0, max);
}

export function parseRunsQuery(q: (name: string) => string | undefined, qs: (name: string) => string[]): RunsQuery {
  const page = Number(q('page') ?? '1');
  return {
    experiment: q('experiment') || undefined,
    status: q('status') || undefined,
    filters: qs('filter')
      .flatMap((f) => f.split(';'))
      .map((f) => f.trim())
      .filter(Boolean),
    sort: q('sort') || undefined,
    page: Number.isSafeInteger(page) && page >= 1 ? page : 1,
    all: q('all') === '1',
  };
}

const datasetOf = (r: RunSummary) => r.params.dataset_id ?? r.tags.dataset_id ?? null;

interface Listing {
  runs: RunSummary[];
  trials: Map<string, RunSummary[]>;
  more: boolean;
  error: string | null;
}

async function listing(deps: UiDeps, rq: RunsQuery): Promise<Listing> {
  const { registry } = deps;
  if (rq.status !== undefined && !STATUSES.includes(rq.status as RunStatus))
    return { runs: [], trials: new Map(), more: false, error: `status must be one of ${STATUSES.join(', ')}` };
  const offset = (rq.page - 1) * PAGE_SIZE;
  try {
    const found = await registry.listRuns({
      experiment: rq.experiment,
      status: rq.status as RunStatus | undefined,
      filters: rq.filters,
      sort: rq.sort,
      topLevelOnly: !rq.all,
      limit: offset + PAGE_SIZE + 1,
    });
    const runs = found.slice(offset, offset + PAGE_SIZE);
    const trials = new Map<string, RunSummary[]>();
    if (!rq.all) {
      for (const r of runs) {
        const children = await registry.listRuns({ parentRunId: r.id, sort: 'start_time' });
        if (children.length) trials.set(r.id, children);
      }
    }
    return { runs, trials, more: found.length > offset + PAGE_SIZE, error: null };
  } catch (err) {
    // A filter the grammar cannot read, or a key no run has: the message says what to write instead.
    if (err instanceof UsageError || err instanceof NotFoundError)
      return { runs: [], trials: new Map(), more: false, error: err.message };
    throw err;
  }
}

function sortLink(rq: RunsQuery, field: string): string {
  const next = rq.sort === `-${field}` ? field : `-${field}`;
  return query({
    experiment: rq.experiment,
    status: rq.status,
    filter: rq.filters.length ? [rq.filters.join('; ')] : undefined,
    sort: next,
    all: rq.all ? '1' : undefined,
  });
}

function SortHeader(props: { rq: RunsQuery; field: string; label: string; num?: boolean }) {
  const { rq, field } = props;
  const mark = rq.sort === field ? ' ▲' : rq.sort === `-${field}` ? ' ▼' : '';
  return (
    <th class={props.num ? 'num' : undefined}>
      <a href={`/${sortLink(rq, field)}`} title={`sort by ${field}`}>
        {props.label}
        {mark}
      </a>
    </th>
  );
}

function RunRow(props: { run: RunSummary; params: string[]; metrics: string[]; trial?: boolean }) {
  const r = props.run;
  const ds = datasetOf(r);
  return (
    <tr class={props.trial ? 'trial' : undefined} data-run={r.id}>
      <td>
        <input type="checkbox" name="runs" value={r.id} aria-label={`select run ${r.name}`} />
      </td>
      <td>
        <StatusBadge status={r.status} />
      </td>
      <td class="name">
        <a href={`/runs/${r.id}`}>{r.name}</a> <span class="muted">{shortId(r.id)}</span>
        {r.status === 'FAILED' && r.error ? <div class="error">{r.error}</div> : null}
        {r.status === 'RUNNING' ? <div class="muted">{`running on ${r.hostname} (pid ${r.pid})`}</div> : null}
      </td>
      <td class="time" title={r.startTime}>
        {fmtTime(r.startTime).slice(0, 16)}
      </td>
      <td class="num">{fmtDuration(r.durationMs)}</td>
      <td>{ds ? <a href={`/datasets/${ds}`}>{ds}</a> : ''}</td>
      {props.params.map((k) => (
        <td>{r.params[k] ?? ''}</td>
      ))}
      {props.metrics.map((k) => (
        <td class="num">{fmtNumber(r.metrics[k])}</td>
      ))}
    </tr>
  );
}

export async function runsPage(deps: UiDeps, rq: RunsQuery) {
  const experiments: ExperimentSummary[] = await deps.registry.listExperiments();
  const l = await listing(deps, rq);
  const all = [...l.runs, ...[...l.trials.values()].flat()];
  const params = pickKeys(all, (r) => r.params, PARAM_FIRST, MAX_PARAM_COLUMNS, ['dataset_id']);
  const metrics = pickKeys(all, (r) => r.metrics, METRIC_FIRST, MAX_METRIC_COLUMNS);
  const base = {
    experiment: rq.experiment,
    status: rq.status,
    filter: rq.filters.length ? [rq.filters.join('; ')] : undefined,
    sort: rq.sort,
    all: rq.all ? '1' : undefined,
  };
  const page = (
    <Layout title="Runs">
      <h1>Runs</h1>
      <p class="muted">
        {'Experiments: '}
        {experiments.map((e, i) => (
          <>
            {i ? ', ' : ''}
            <a href={`/${query({ experiment: e.name })}`}>{e.name}</a> <span>{`(${e.runCount})`}</span>
          </>
        ))}
      </p>
      <form class="filters" method="get" action="/">
        <label>
          Experiment
          <select name="experiment">
            <option value="">all</option>
            {experiments.map((e) => (
              <option value={e.name} selected={e.name === rq.experiment}>
                {e.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select name="status">
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option value={s} selected={s === rq.status}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Filter (as --filter; several separated by ;)
          <input
            type="text"
            name="filter"
            size={48}
            value={rq.filters.join('; ')}
            placeholder="metrics.test_f1>0.6; params.search=random"
          />
        </label>
        <label>
          Sort (as --sort)
          <input type="text" name="sort" size={18} value={rq.sort ?? ''} placeholder="-metrics.test_f1" />
        </label>
        <label>
          <span>
            <input type="checkbox" name="all" value="1" checked={rq.all} /> list trials as runs
          </span>
        </label>
        <button type="submit">Apply</button>
      </form>
      {l.error ? (
        <p class="notice bad" id="filter-error">
          {l.error}
        </p>
      ) : null}
      <form method="get" action="/compare">
        <div class="scroll">
          <table id="runs">
            <thead>
              <tr>
                <th>
                  <input type="checkbox" data-check-all aria-label="select every run" />
                </th>
                <SortHeader rq={rq} field="status" label="Status" />
                <SortHeader rq={rq} field="name" label="Run" />
                <SortHeader rq={rq} field="start_time" label="Start" />
                <SortHeader rq={rq} field="duration_ms" label="Duration" num />
                <th>Data set</th>
                {params.map((k) => (
                  <SortHeader rq={rq} field={`params.${k}`} label={k} />
                ))}
                {metrics.map((k) => (
                  <SortHeader rq={rq} field={`metrics.${k}`} label={k} num />
                ))}
              </tr>
            </thead>
            <tbody>
              {l.runs.map((r) => (
                <>
                  <RunRow run={r} params={params} metrics={metrics} />
                  {(l.trials.get(r.id) ?? []).map((t) => (
                    <RunRow run={t} params={params} metrics={metrics} trial />
                  ))}
                </>
              ))}
            </tbody>
          </table>
        </div>
        {l.runs.length === 0 && !l.error ? <p class="muted">No runs match.</p> : null}
        <p>
          <button type="submit">Compare selected</button>
        </p>
      </form>
      <div class="pager">
        {rq.page > 1 ? <a href={`/${query({ ...base, page: rq.page - 1 })}`}>← previous page</a> : null}
        <span class="muted">{`page ${rq.page}`}</span>
        {l.more ? (
          <a href={`/${query({ ...base, page: rq.page + 1 })}`} rel="next">
            next page →
          </a>
        ) : null}
      </div>
    </Layout>
  );
  // 200 with the message: the page is the form to correct the filter in (a 400 would be a console error).
  return { page, status: 200 as const };
}
