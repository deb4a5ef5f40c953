/** @jsxImportSource hono/jsx */
import type { JSX } from 'hono/jsx/jsx-runtime';
import { CHAMPION_ALIAS, MODEL_NAME } from '../core/context.js';
import { CONTINUOUS_BOUNDS } from '../core/dataset/schema.js';
import { NotFoundError } from '../core/errors.js';
import type { ContinuousColumn } from '../core/dataset/schema.js';
import { HttpError } from '../core/server/errors.js';
import type { ValidationIssue } from '../core/server/errors.js';
import { createPredictCore } from '../core/server/handlers.js';
import { createMetrics } from '../core/server/metrics.js';
import { createModelHolder } from '../core/server/model-holder.js';
import type { LoadedModel, ModelHolder } from '../core/server/model-holder.js';
import { EXAMPLE_DAY, FIELDS } from '../core/tui/fields.js';
import type { FieldName } from '../core/tui/fields.js';
import type { UiDeps } from './deps.js';
import { Layout } from './layout.js';

/** What POST /predict/ answers, parsed back from the JSON text the API's own code path wrote. */
export interface PredictAnswer {
  prediction_bool: number;
  prediction_str: string;
  probability: number | null;
  model: { name: string; version: number };
}

export interface PredictService {
  readonly model: string;
  /** Scores a `{features}` body as POST /predict/ does; throws HttpError (422, 503) as it does. */
  predict(body: unknown): Promise<PredictAnswer>;
  close(): Promise<void>;
}

/**
 * The prediction API's scorer behind the form: the same model holder (the champion alias, followed at each
 * request) and the same `predictOne` as POST /predict/, so the page and the API cannot answer differently.
 */
export function createPredictService(deps: UiDeps): PredictService {
  const model = deps.model ?? MODEL_NAME;
  const metrics = createMetrics();
  let holder: ModelHolder | null = null;
  const loaded = async (): Promise<LoadedModel> => {
    holder ??= createModelHolder(
      { model, alias: CHAMPION_ALIAS, pollMs: 0 },
      { registry: deps.registry, store: deps.store, logger: deps.logger, metrics },
    );
    if (holder.current() === null) return holder.init();
    await holder.refresh();
    return holder.current()!;
  };
  return {
    model,
    async predict(body) {
      const current = await loaded();
      const core = createPredictCore({ holder: holder!, metrics, logger: deps.logger });
      return JSON.parse(core.predictOne(current, body)) as PredictAnswer;
    },
    async close() {
      await holder?.stop();
    },
  };
}

/** The form's fields as the API's body: numbers as numbers, the rest as text (RainToday as Yes/No). */
export function formToFeatures(form: Record<string, string>): Record<string, unknown> {
  const features: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const v = (form[f.name] ?? '').trim();
    if (f.kind === 'number') features[f.name] = v === '' ? null : Number(v);
    else features[f.name] = v;
  }
  return features;
}

function bounds(name: ContinuousColumn): { min?: number; max?: number } {
  const { minValue, maxValue } = CONTINUOUS_BOUNDS[name];
  return {
    ...(minValue !== null && Number.isFinite(minValue) ? { min: minValue } : {}),
    ...(maxValue !== null && Number.isFinite(maxValue) ? { max: maxValue } : {}),
  };
}

function Field(props: { f: (typeof FIELDS)[number]; value: string; issue: string | undefined }) {
  const { f, value } = props;
  const id = `f-${f.name}`;
  let control: JSX.Element;
  if (f.kind === 'select' || f.kind === 'yesno') {
    const options = f.kind === 'select' ? f.options : ['Yes', 'No'];
    control = (
      <select id={id} name={f.name} required>
        {options.map((o) => (
          <option value={o} selected={o === value}>
            {o}
          </option>
        ))}
      </select>
    );
  } else if (f.kind === 'number') {
    control = (
      <input
        id={id}
        name={f.name}
        type="number"
        step="any"
        required
        value={value}
        {...bounds(f.name as ContinuousColumn)}
      />
    );
  } else {
    control = <input id={id} name={f.name} type="text" required value={value} pattern="\d{4}-\d{2}-\d{2}" />;
  }
  return (
    <label for={id}>
      <span>{f.label}</span>
      {control}
      {props.issue ? <span class="error">{props.issue}</span> : null}
    </label>
  );
}

export function predictPage(props: {
  model: string;
  values?: Record<string, string>;
  answer?: PredictAnswer;
  error?: string;
  issues?: ValidationIssue[];
}) {
  const values = props.values ?? (EXAMPLE_DAY as Record<FieldName, string>);
  const issueOf = (name: string) => props.issues?.find((i) => i.loc.includes(name))?.msg;
  const a = props.answer;
  return (
    <Layout title="Predict">
      <h1>Will it rain tomorrow?</h1>
      <p class="muted">{`Scored by ${props.model}@${CHAMPION_ALIAS} with the same schema and scorer as POST /predict/. The form opens with the example day.`}</p>
      {a ? (
        <div class="answer" id="answer" aria-live="polite">
          <div id="prediction-str">{a.prediction_str}</div>
          <div>
            {a.prediction_bool ? 'Rain is predicted' : 'No rain is predicted'}
            {': probability '}
            <strong id="probability">{a.probability === null ? 'null' : String(a.probability)}</strong>
          </div>
          <div class="muted" id="model-version">{`model ${a.model.name} v${a.model.version}`}</div>
        </div>
      ) : null}
      {props.error ? (
        <p class="notice bad" id="predict-error">
          {props.error}
        </p>
      ) : null}
      <form method="post" action="/predict" class="predict-form" id="predict-form">
        {FIELDS.map((f) => (
          <Field f={f} value={values[f.name] ?? ''} issue={issueOf(f.name)} />
        ))}
        <div class="actions">
          <button type="submit">Predict</button>
        </div>
      </form>
    </Layout>
  );
}

/** The message of an error the scorer threw, as the page shows it. */
export function predictError(
  err: unknown,
): { status: 422 | 503 | 404; message: string; issues?: ValidationIssue[] } | null {
  if (err instanceof HttpError) {
    if (err.status === 422 && Array.isArray(err.body.detail))
      return {
        status: 422,
        message: 'Some values are not accepted; see the fields marked below.',
        issues: err.body.detail,
      };
    return { status: err.status === 503 ? 503 : 422, message: err.message };
  }
  if (err instanceof NotFoundError) return { status: 404, message: err.message };
  return null;
}
