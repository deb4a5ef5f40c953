import { PredictFeaturesSchema } from '../dataset/schema.js';
import type { PredictFeatures } from '../dataset/schema.js';
import type { PredictResult } from '../predict/scorer.js';
import { EXAMPLE_DAY, FIELDS } from './fields.js';
import type { FieldName, FieldSpec } from './fields.js';

/** Everything the form shows; changed only by formReducer. */
export interface FormState {
  values: Record<FieldName, string>;
  errors: Partial<Record<FieldName, string>>;
  /** Index into FIELDS; FIELDS.length is the Predict button. */
  focus: number;
  /** What was typed into the focused select to narrow its options. */
  filter: string;
  /** The request being answered; a newer submission supersedes it. */
  pending: { id: number; features: PredictFeatures } | null;
  result: PredictResult | null;
  failure: string | null;
  /** The values changed since the result shown was computed. */
  stale: boolean;
  submissions: number;
}

export type FormAction =
  | { type: 'move'; by: 1 | -1 }
  | { type: 'type'; text: string }
  | { type: 'erase' }
  | { type: 'clear' }
  | { type: 'cycle'; by: 1 | -1 }
  | { type: 'submit' }
  /** Enter: submits on the Predict button, moves on elsewhere. */
  | { type: 'enter' }
  | { type: 'answered'; id: number; result: PredictResult }
  | { type: 'failed'; id: number; message: string };

export const BUTTON = FIELDS.length;

const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

export function initialFormState(values: Readonly<Record<FieldName, string>> = EXAMPLE_DAY): FormState {
  const state: FormState = {
    values: { ...values },
    errors: {},
    focus: 0,
    filter: '',
    pending: null,
    result: null,
    failure: null,
    stale: false,
    submissions: 0,
  };
  for (const spec of FIELDS) {
    const error = checkField(spec, state.values[spec.name]);
    if (error) state.errors[spec.name] = error;
  }
  return state;
}

/** The message to show beside a field, or undefined when its text is a valid value. */
export function checkField(spec: FieldSpec, text: string): string | undefined {
  switch (spec.kind) {
    case 'text': {
      const parsed = spec.schema.safeParse(text.trim());
      return parsed.success ? undefined : parsed.error.issues[0]?.message;
    }
    case 'number': {
      const t = text.trim();
      if (t === '') return 'required';
      if (!DECIMAL.test(t)) return 'expected a number';
      const parsed = spec.schema.safeParse(Number(t));
      return parsed.success ? undefined : parsed.error.issues[0]?.message;
    }
    case 'select':
      return spec.options.includes(text) ? undefined : 'choose one of the list';
    case 'yesno':
      return text === 'Yes' || text === 'No' ? undefined : 'expected Yes or No';
  }
}

/** Options matching what was typed: exact first, then by prefix, then containing it (case-insensitive). */
export function filterOptions(options: readonly string[], filter: string): string[] {
  const f = filter.toLowerCase();
  if (f === '') return [...options];
  const rank = (o: string) =>
    o.toLowerCase() === f ? 0 : o.toLowerCase().startsWith(f) ? 1 : o.toLowerCase().includes(f) ? 2 : 3;
  return options.filter((o) => rank(o) < 3).sort((a, b) => rank(a) - rank(b));
}

/** The form's values as the API's features, validated with the shared schema. */
export function formFeatures(values: Record<FieldName, string>): ReturnType<typeof PredictFeaturesSchema.safeParse> {
  const raw: Record<string, unknown> = {};
  for (const spec of FIELDS) {
    const text = values[spec.name].trim();
    raw[spec.name] = spec.kind === 'number' ? (text === '' || !DECIMAL.test(text) ? text : Number(text)) : text;
  }
  return PredictFeaturesSchema.safeParse(raw);
}

function setValue(state: FormState, name: FieldName, value: string, filter = state.filter): FormState {
  const spec = FIELDS.find((f) => f.name === name)!;
  const errors = { ...state.errors };
  const error = checkField(spec, value);
  if (error) errors[name] = error;
  else delete errors[name];
  return {
    ...state,
    values: { ...state.values, [name]: value },
    errors,
    filter,
    stale: state.result !== null || state.stale,
  };
}

export function formReducer(state: FormState, action: FormAction): FormState {
  const spec = FIELDS[state.focus];
  switch (action.type) {
    case 'move': {
      const focus = (state.focus + action.by + BUTTON + 1) % (BUTTON + 1);
      // Leaving a select drops its filter; a filter that matched nothing left the value as it was.
      const errors = { ...state.errors };
      if (spec?.kind === 'select' && !checkField(spec, state.values[spec.name])) delete errors[spec.name];
      return { ...state, focus, filter: '', errors };
    }
    case 'type': {
      if (!spec) return state;
      const text = action.text.replace(/[\x00-\x1f\x7f]/g, '');
      if (text === '') return state;
      if (spec.kind === 'yesno') {
        const c = text.at(-1)!.toLowerCase();
        const current = state.values[spec.name];
        const next = c === 'y' ? 'Yes' : c === 'n' ? 'No' : c === ' ' ? (current === 'Yes' ? 'No' : 'Yes') : current;
        return next === current ? state : setValue(state, spec.name, next);
      }
      if (spec.kind === 'select') return narrow(state, spec, state.filter + text);
      return setValue(state, spec.name, state.values[spec.name] + text);
    }
    case 'erase': {
      if (!spec) return state;
      if (spec.kind === 'select') return state.filter === '' ? state : narrow(state, spec, state.filter.slice(0, -1));
      if (spec.kind === 'yesno') return state;
      return setValue(state, spec.name, state.values[spec.name].slice(0, -1));
    }
    case 'clear': {
      if (!spec || spec.kind === 'yesno') return state;
      if (spec.kind === 'select') return narrow(state, spec, '');
      return setValue(state, spec.name, '');
    }
    case 'cycle': {
      if (!spec) return state;
      if (spec.kind === 'yesno') return setValue(state, spec.name, state.values[spec.name] === 'Yes' ? 'No' : 'Yes');
      if (spec.kind !== 'select') return state;
      const list = filterOptions(spec.options, state.filter);
      if (list.length === 0) return state;
      const at = list.indexOf(state.values[spec.name]);
      const next = at < 0 ? list[0]! : list[(at + action.by + list.length) % list.length]!;
      return setValue(state, spec.name, next);
    }
    case 'enter':
      return formReducer(state, state.focus === BUTTON ? { type: 'submit' } : { type: 'move', by: 1 });
    case 'submit': {
      const parsed = formFeatures(state.values);
      if (!parsed.success) {
        const errors = { ...state.errors };
        for (const issue of parsed.error.issues) {
          const name = issue.path[0] as FieldName;
          errors[name] ??= issue.message;
        }
        const first = FIELDS.findIndex((f) => errors[f.name] !== undefined);
        return { ...state, errors, focus: first < 0 ? state.focus : first, filter: '', failure: null };
      }
      const id = state.submissions + 1;
      return { ...state, errors: {}, pending: { id, features: parsed.data }, submissions: id, failure: null };
    }
    case 'answered':
      if (state.pending?.id !== action.id) return state;
      return { ...state, pending: null, result: action.result, failure: null, stale: false };
    case 'failed':
      if (state.pending?.id !== action.id) return state;
      return { ...state, pending: null, failure: action.message };
  }
}

/** Narrows a select to what was typed and picks the best match. */
function narrow(state: FormState, spec: Extract<FieldSpec, { kind: 'select' }>, filter: string): FormState {
  if (filter === '') {
    const errors = { ...state.errors };
    const error = checkField(spec, state.values[spec.name]);
    if (error) errors[spec.name] = error;
    else delete errors[spec.name];
    return { ...state, filter, errors };
  }
  const list = filterOptions(spec.options, filter);
  if (list.length === 0)
    return { ...state, filter, errors: { ...state.errors, [spec.name]: `nothing matches "${filter}"` } };
  return setValue(state, spec.name, list[0]!, filter);
}
