/** Upper bounds (seconds) of the request latency histogram. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Plain data, so that the processes of a cluster can send theirs to be added up. */
export interface MetricsSnapshot {
  requests: Array<{ method: string; route: string; status: number; count: number }>;
  latency: Array<{ route: string; buckets: number[]; sum: number; count: number }>;
  predictions: { rain: number; dry: number };
  models: Array<{ model: string; alias: string; version: number; engine: string }>;
  reloads: number;
  reloadFailures: number;
  startedAt: number;
  /** Rows of the prediction log (serve --log-predictions); absent when it is off. */
  predictionLog?: { logged: number; spooled: number; dropped: number };
}

export interface ServerMetrics {
  request(method: string, route: string, status: number, seconds: number): void;
  predicted(rain: number, dry: number): void;
  modelLoaded(m: { model: string; alias: string; version: number; engine: string }, isReload: boolean): void;
  reloadFailed(): void;
  snapshot(): MetricsSnapshot;
  /** The prediction log's counters, which the log increments itself; null until one is attached. */
  predictionLog: { logged: number; spooled: number; dropped: number } | null;
  /** Prometheus text exposition (format 0.0.4) of this process alone. */
  render(): string;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function createMetrics(now: () => number = Date.now): ServerMetrics {
  type Counter = { method: string; route: string; status: number; count: number };
  // route -> method -> status: lookups by values the caller already holds, no key string built per request
  const requests = new Map<string, Map<string, Map<number, Counter>>>();
  const latency = new Map<string, { route: string; buckets: number[]; sum: number; count: number }>();
  const predictions = { rain: 0, dry: 0 };
  let model: MetricsSnapshot['models'][number] | null = null;
  let reloads = 0;
  let reloadFailures = 0;
  const startedAt = now() / 1000;

  const self: { predictionLog: ServerMetrics['predictionLog'] } = { predictionLog: null };
  const snapshot = (): MetricsSnapshot => ({
    ...(self.predictionLog ? { predictionLog: { ...self.predictionLog } } : {}),
    requests: [...requests.values()].flatMap((byMethod) =>
      [...byMethod.values()].flatMap((byStatus) => [...byStatus.values()].map((r) => ({ ...r }))),
    ),
    latency: [...latency.values()].map((h) => ({ ...h, buckets: [...h.buckets] })),
    predictions: { ...predictions },
    models: model ? [{ ...model }] : [],
    reloads,
    reloadFailures,
    startedAt,
  });

  return {
    get predictionLog() {
      return self.predictionLog;
    },
    set predictionLog(counts) {
      self.predictionLog = counts;
    },
    request(method, route, status, seconds) {
      let byMethod = requests.get(route);
      if (!byMethod) {
        byMethod = new Map();
        requests.set(route, byMethod);
      }
      let byStatus = byMethod.get(method);
      if (!byStatus) {
        byStatus = new Map();
        byMethod.set(method, byStatus);
      }
      const r = byStatus.get(status);
      if (r) r.count++;
      else byStatus.set(status, { method, route, status, count: 1 });
      let h = latency.get(route);
      if (!h) {
        h = { route, buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
        latency.set(route, h);
      }
      // Buckets hold per-bucket counts here; render() makes them cumulative.
      let i = 0;
      while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
      if (i < LATENCY_BUCKETS.length) h.buckets[i]!++;
      h.sum += seconds;
      h.count++;
    },
    predicted(rain, dry) {
      predictions.rain += rain;
      predictions.dry += dry;
    },
    modelLoaded(m, isReload) {
      model = { ...m };
      if (isReload) reloads++;
    },
    reloadFailed() {
      reloadFailures++;
    },
    snapshot,
    render: () => renderMetrics([snapshot()]),
  };
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = (l: Record<string, string | number>) =>
  `{${Object.entries(l)
    .map(([k, v]) => `${k}="${esc(String(v))}"`)
    .join(',')}}`;

/** Adds up the snapshots of one or more processes and writes them as Prometheus text. */
export function renderMetrics(snapshots: readonly MetricsSnapshot[]): string {
  const out: string[] = [];
  const head = (name: string, type: string, help: string) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

  const requests = new Map<string, number>();
  const latency = new Map<string, { buckets: number[]; sum: number; count: number }>();
  const models = new Map<string, { labels: Record<string, string | number>; processes: number; version: number }>();
  let rain = 0;
  let dry = 0;
  let reloads = 0;
  let failures = 0;
  let startedAt = Infinity;
  const logged = { logged: 0, spooled: 0, dropped: 0 };
  let logging = false;
  for (const s of snapshots) {
    if (s.predictionLog) {
      logging = true;
      logged.logged += s.predictionLog.logged;
      logged.spooled += s.predictionLog.spooled;
      logged.dropped += s.predictionLog.dropped;
    }
    for (const r of s.requests) {
      const key = labels({ method: r.method, route: r.route, status: r.status });
      requests.set(key, (requests.get(key) ?? 0) + r.count);
    }
    for (const h of s.latency) {
      const acc = latency.get(h.route) ?? { buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
      h.buckets.forEach((n, i) => {
        acc.buckets[i]! += n;
      });
      acc.sum += h.sum;
      acc.count += h.count;
      latency.set(h.route, acc);
    }
    for (const m of s.models) {
      const l = { model: m.model, alias: m.alias, version: m.version, engine: m.engine };
      const key = labels(l);
      const acc = models.get(key) ?? { labels: l, processes: 0, version: m.version };
      acc.processes++;
      models.set(key, acc);
    }
    rain += s.predictions.rain;
    dry += s.predictions.dry;
    reloads += s.reloads;
    failures += s.reloadFailures;
    startedAt = Math.min(startedAt, s.startedAt);
  }

  head('rainops_http_requests_total', 'counter', 'HTTP requests by method, route and status.');
  for (const [key, n] of requests) out.push(`rainops_http_requests_total${key} ${n}`);

  head('rainops_http_request_duration_seconds', 'histogram', 'Time from request to response, by route.');
  for (const [route, h] of latency) {
    let cumulative = 0;
    LATENCY_BUCKETS.forEach((le, i) => {
      cumulative += h.buckets[i]!;
      out.push(`rainops_http_request_duration_seconds_bucket${labels({ route, le })} ${cumulative}`);
    });
    out.push(`rainops_http_request_duration_seconds_bucket${labels({ route, le: '+Inf' })} ${h.count}`);
    out.push(`rainops_http_request_duration_seconds_sum${labels({ route })} ${h.sum}`);
    out.push(`rainops_http_request_duration_seconds_count${labels({ route })} ${h.count}`);
  }

  head('rainops_predictions_total', 'counter', 'Rows scored, by predicted class (1 = rain tomorrow).');
  out.push(`rainops_predictions_total{class="1"} ${rain}`, `rainops_predictions_total{class="0"} ${dry}`);

  head(
    'rainops_model_version',
    'gauge',
    'Version of the model served under the alias (the newest any process serves).',
  );
  const byAlias = new Map<string, number>();
  for (const m of models.values()) {
    const key = labels({ model: m.labels.model!, alias: m.labels.alias! });
    byAlias.set(key, Math.max(byAlias.get(key) ?? 0, m.version));
  }
  for (const [key, v] of byAlias) out.push(`rainops_model_version${key} ${v}`);

  head('rainops_model_info', 'gauge', 'Processes serving each model version.');
  for (const [key, m] of models) out.push(`rainops_model_info${key} ${m.processes}`);

  head('rainops_model_reloads_total', 'counter', 'Model versions swapped in after the alias moved.');
  out.push(`rainops_model_reloads_total ${reloads}`);
  head(
    'rainops_model_reload_failures_total',
    'counter',
    'Model versions that failed to load or verify (the previous one kept serving).',
  );
  out.push(`rainops_model_reload_failures_total ${failures}`);

  if (logging) {
    head(
      'rainops_prediction_log_rows_logged_total',
      'counter',
      'Predictions written to the store by the prediction log.',
    );
    out.push(`rainops_prediction_log_rows_logged_total ${logged.logged}`);
    head(
      'rainops_prediction_log_rows_spooled_total',
      'counter',
      'Predictions spooled locally while the store was unreachable.',
    );
    out.push(`rainops_prediction_log_rows_spooled_total ${logged.spooled}`);
    head('rainops_prediction_log_rows_dropped_total', 'counter', 'Predictions not logged: the buffer was full.');
    out.push(`rainops_prediction_log_rows_dropped_total ${logged.dropped}`);
  }
  head('rainops_processes', 'gauge', 'Server processes whose figures are added up here.');
  out.push(`rainops_processes ${snapshots.length}`);
  head('process_start_time_seconds', 'gauge', 'Start time of the server, seconds since the Unix epoch.');
  out.push(`process_start_time_seconds ${Number.isFinite(startedAt) ? startedAt : 0}`);
  return `${out.join('\n')}\n`;
}
