import { z } from 'zod';
import { PredictFeaturesSchema } from '../dataset/schema.js';
import type { PredictFeatures } from '../dataset/schema.js';
import { UsageError } from '../errors.js';

/** zod's prettified form of the first issue on one line (`✖ message → at field`), with a count of the others. */
export function describeIssues(error: z.ZodError): string {
  const [first, ...rest] = error.issues;
  if (!first) return 'invalid input';
  const text = z.prettifyError(new z.ZodError([first])).replace(/\n\s*/g, ' ');
  return rest.length === 0 ? text : `${text} (and ${rest.length} more problem${rest.length === 1 ? '' : 's'})`;
}

/** The API's body wraps the features (`{"features": {...}}`); a bare features object is accepted too. */
export function unwrapFeatures(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'features' in value) {
    const inner = (value as { features: unknown }).features;
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) return inner;
  }
  return value;
}

/** Validates one prediction request with the shared API schema; a failure is a usage error naming the field. */
export function parseFeatures(value: unknown): PredictFeatures {
  const parsed = PredictFeaturesSchema.safeParse(unwrapFeatures(value));
  if (!parsed.success) throw new UsageError(`predict: invalid features: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Parses the text of --features (or standard input) as JSON, then validates it. */
export function parseFeaturesJson(text: string, source: string): PredictFeatures {
  if (text.trim() === '')
    throw new UsageError(
      `predict: ${source} is empty; pass a JSON object such as '{"features": {"Date": "2024-08-26", ...}}'`,
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(
      `predict: ${source} is not valid JSON (${(err as Error).message}); pass one JSON object of features`,
    );
  }
  return parseFeatures(value);
}
