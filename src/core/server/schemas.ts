import { z } from 'zod';
import { ANSWER_DRY, ANSWER_RAIN } from '../bundle/predictor.js';
import { PredictFeaturesSchema } from '../dataset/schema.js';

/** Rows one POST /predict/batch may carry. */
export const MAX_BATCH_ROWS = 10_000;

/** Invalid rows of one batch whose errors are spelled out; later ones get an empty `detail`, so the answer stays small. */
export const MAX_DETAILED_ROWS = 100;

export const PredictRequestSchema = z.object({ features: PredictFeaturesSchema });

/** The documented batch shape; a bare JSON array of feature objects is accepted too. */
export const BatchRequestSchema = z.object({ features: z.array(PredictFeaturesSchema).max(MAX_BATCH_ROWS) });

export const ModelRefSchema = z.object({ name: z.string(), version: z.number().int().positive() });

const predictionShape = {
  prediction_bool: z.union([z.literal(0), z.literal(1)]),
  prediction_str: z.enum([ANSWER_RAIN, ANSWER_DRY]),
  probability: z.number().min(0).max(1),
};

export const PredictResponseSchema = z.object({ ...predictionShape, model: ModelRefSchema });

export const ValidationIssueSchema = z.object({
  loc: z.array(z.union([z.string(), z.number()])),
  msg: z.string(),
  type: z.string(),
  ctx: z.record(z.string(), z.unknown()).optional(),
});

export const HTTPValidationErrorSchema = z.object({ detail: z.array(ValidationIssueSchema) });
export const ErrorSchema = z.object({ detail: z.string() });

export const BatchResponseSchema = z.object({
  model: ModelRefSchema,
  count: z.number().int(),
  valid: z.number().int(),
  invalid: z.number().int(),
  /** Invalid rows past the first MAX_DETAILED_ROWS, whose `detail` is left empty. */
  details_omitted: z.number().int(),
  predictions: z.array(
    z.union([
      z.object({ index: z.number().int(), ...predictionShape }),
      z.object({ index: z.number().int(), detail: z.array(ValidationIssueSchema) }),
    ]),
  ),
});

export const ModelInfoSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  alias: z.string(),
  kind: z.string(),
  threshold: z.number(),
  metrics: z.record(z.string(), z.number()),
  params: z.record(z.string(), z.unknown()),
  dataset: z.string(),
  run_id: z.string(),
  engine: z.string(),
  created_at: z.string(),
  loaded_at: z.string(),
});

export const WelcomeSchema = z.object({ message: z.string(), docs: z.string() });
export const HealthSchema = z.object({ status: z.literal('ok') });
export const ReadySchema = z.object({
  /** ready; loading (no model yet); stale (serving `version`, but not what the alias points at: see `reason`). */
  status: z.enum(['ready', 'loading', 'stale']),
  model: z.string(),
  version: z.number().int().nullable(),
  reason: z.string().optional(),
});

export const ReloadResultSchema = z.object({
  status: z.enum(['unchanged', 'loaded', 'failed', 'skipped']),
  version: z.number().int().nullable(),
  previous: z.number().int().nullable(),
  error: z.string().optional(),
  reason: z.string().optional(),
});
