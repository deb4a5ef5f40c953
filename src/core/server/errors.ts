import type { z } from 'zod';

/** One entry of a FastAPI-shaped 422 body: `{"detail": [{"loc", "msg", "type"}]}`. */
export interface ValidationIssue {
  loc: Array<string | number>;
  msg: string;
  type: string;
  ctx?: Record<string, unknown>;
}

/** An error response the handlers return as it is (status and JSON body). */
export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 415 | 422 | 503,
    readonly body: { detail: string | ValidationIssue[] },
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.detail === 'string' ? body.detail : (body.detail[0]?.msg ?? 'invalid request'));
    this.name = 'HttpError';
  }
}

export function validationError(detail: ValidationIssue[]): HttpError {
  return new HttpError(422, { detail });
}

// A message echoes user input (an unknown location, say): keep responses small whatever was sent.
const MAX_MSG = 300;
const clip = (s: string) => (s.length > MAX_MSG ? `${s.slice(0, MAX_MSG)}…` : s);

const TYPE_NAMES: Record<string, [type: string, msg: string]> = {
  number: ['float_type', 'Input should be a valid number'],
  string: ['string_type', 'Input should be a valid string'],
  object: ['model_attributes_type', 'Input should be a valid dictionary or object'],
  array: ['list_type', 'Input should be a valid list'],
};

function valueAt(input: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let v = input;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return { found: false, value: undefined };
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return { found: true, value: v };
}

/** Maps zod issues to FastAPI/pydantic-style entries, with `loc` starting at `prefix` (e.g. ["body"]). */
export function issuesToDetail(
  issues: readonly z.core.$ZodIssue[],
  prefix: ReadonlyArray<string | number>,
  input: unknown,
): ValidationIssue[] {
  return issues.map((issue) => {
    const loc = [...prefix, ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))];
    switch (issue.code) {
      case 'invalid_type': {
        const at = valueAt(input, issue.path);
        if (!at.found || at.value === undefined) return { loc, msg: 'Field required', type: 'missing' };
        if (typeof at.value === 'number' && !Number.isFinite(at.value))
          return { loc, msg: 'Input should be a finite number', type: 'finite_number' };
        const [type, msg] = TYPE_NAMES[issue.expected] ?? ['type_error', clip(issue.message)];
        return { loc, msg, type };
      }
      case 'too_small': {
        if (issue.origin === 'array')
          return { loc, msg: `List should have at least ${String(issue.minimum)} items`, type: 'too_short' };
        const [word, key] = issue.inclusive ? ['greater than or equal to', 'ge'] : ['greater than', 'gt'];
        return {
          loc,
          msg: `Input should be ${word} ${String(issue.minimum)}`,
          type: issue.inclusive ? 'greater_than_equal' : 'greater_than',
          ctx: { [key]: Number(issue.minimum) },
        };
      }
      case 'too_big': {
        if (issue.origin === 'array')
          return { loc, msg: `List should have at most ${String(issue.maximum)} items`, type: 'too_long' };
        const [word, key] = issue.inclusive ? ['less than or equal to', 'le'] : ['less than', 'lt'];
        return {
          loc,
          msg: `Input should be ${word} ${String(issue.maximum)}`,
          type: issue.inclusive ? 'less_than_equal' : 'less_than',
          ctx: { [key]: Number(issue.maximum) },
        };
      }
      case 'invalid_value':
        return { loc, msg: clip(issue.message), type: 'enum' };
      default:
        // custom refinements (a real day, a known station) and unions (RainToday)
        return { loc, msg: clip(issue.message), type: 'value_error' };
    }
  });
}
