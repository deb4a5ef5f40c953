import { z } from 'zod';
import { UsageError } from '../errors.js';
import { snakeCase } from '../naming.js';

const int = (min: number, max: number) =>
  z
    .number({ error: 'must be a number' })
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be a whole number from ${min} to ${max}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}` });

const fraction = z
  .number({ error: 'must be a number' })
  .gt(0, { error: 'must be greater than 0 and at most 1' })
  .max(1, { error: 'must be greater than 0 and at most 1' });

const nonNegative = z.number({ error: 'must be a number' }).min(0, { error: 'must be 0 or more' });

/** XGBoost hyperparameters, with XGBoost's own defaults (nthread: every core). */
export const xgbParamsSchema = z.strictObject({
  maxDepth: int(1, 16).default(6),
  learningRate: fraction.default(0.3),
  nEstimators: int(1, 10_000).default(100),
  minChildWeight: nonNegative.default(1),
  subsample: fraction.default(1),
  colsampleBytree: fraction.default(1),
  lambda: nonNegative.default(1),
  alpha: nonNegative.default(0),
  gamma: nonNegative.default(0),
  scalePosWeight: z.number({ error: 'must be a number' }).gt(0, { error: 'must be greater than 0' }).default(1),
  seed: int(0, 2_147_483_647).default(0),
  nthread: int(1, 1024).optional(),
});

export type XgbParams = z.output<typeof xgbParamsSchema>;
export type XgbParamsInput = z.input<typeof xgbParamsSchema>;

/** Names used by XGBoost and scikit-learn, accepted so that grids written for the Python original work. */
const ALIASES: Readonly<Record<string, keyof XgbParams>> = {
  max_depth: 'maxDepth',
  learning_rate: 'learningRate',
  eta: 'learningRate',
  n_estimators: 'nEstimators',
  num_boost_round: 'nEstimators',
  min_child_weight: 'minChildWeight',
  colsample_bytree: 'colsampleBytree',
  reg_lambda: 'lambda',
  reg_alpha: 'alpha',
  scale_pos_weight: 'scalePosWeight',
  random_state: 'seed',
  n_jobs: 'nthread',
};

/** Validates hyperparameters (camelCase or XGBoost/scikit-learn names), filling in defaults. */
export function parseXgbParams(input: unknown = {}): XgbParams {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new UsageError('Hyperparameters must be an object such as {"max_depth": 6, "learning_rate": 0.3}.');
  }
  const normalized: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const name = ALIASES[key] ?? key;
    if (name in normalized) {
      throw new UsageError(`Hyperparameter ${snakeCase(name)} is given twice (as ${key} and under another name).`);
    }
    normalized[name] = value;
  }
  const parsed = xgbParamsSchema.safeParse(normalized);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `unknown hyperparameter${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
    }
    const name = issue.path.map((p) => snakeCase(String(p))).join('.');
    const got = issue.path.length > 0 ? normalized[String(issue.path[0])] : undefined;
    return `${name} ${issue.message} (got ${JSON.stringify(got)})`;
  });
  throw new UsageError(`Invalid hyperparameters: ${problems.join('; ')}.`);
}

/** Hyperparameters as recorded and shown: under XGBoost's snake_case names (max_depth), whichever spelling was given (eta -> learning_rate). */
export function xgbParamRecord(input: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(input).flatMap(([k, v]) => (v === undefined ? [] : [[snakeCase(ALIASES[k] ?? k), v]])),
  );
}

/** XGBoost's own parameter names and values, identical for both engines but for threads. */
export function xgbParamPairs(p: XgbParams, threads: number | null): [string, string][] {
  const pairs: [string, string][] = [
    ['booster', 'gbtree'],
    ['objective', 'binary:logistic'],
    ['tree_method', 'hist'],
    ['base_score', '0.5'],
    ['max_depth', String(p.maxDepth)],
    ['eta', String(p.learningRate)],
    ['min_child_weight', String(p.minChildWeight)],
    ['subsample', String(p.subsample)],
    ['colsample_bytree', String(p.colsampleBytree)],
    ['lambda', String(p.lambda)],
    ['alpha', String(p.alpha)],
    ['gamma', String(p.gamma)],
    ['scale_pos_weight', String(p.scalePosWeight)],
    ['seed', String(p.seed)],
  ];
  if (threads !== null) pairs.push(['nthread', String(threads)]);
  return pairs;
}
