import { z } from 'zod';
import { ANSWER_RAIN } from '../bundle/predictor.js';
import { MODEL_NAME } from '../context.js';
import { DateSchema, LocationSchema, PredictFeaturesSchema } from '../dataset/schema.js';
import { LOCATION_NAMES } from '../features/locations.js';
import {
  BatchRequestSchema,
  BatchResponseSchema,
  ErrorSchema,
  HealthSchema,
  HTTPValidationErrorSchema,
  MAX_BATCH_ROWS,
  MAX_DETAILED_ROWS,
  ModelInfoSchema,
  PredictRequestSchema,
  PredictResponseSchema,
  ReadySchema,
  ReloadResultSchema,
  ValidationIssueSchema,
  WelcomeSchema,
} from './schemas.js';
import { EXAMPLE_FEATURES } from '../dataset/example.js';

export interface OpenApiOptions {
  version: string;
  /** Bodies larger than these are refused with 413. */
  bodyLimit: number;
  batchBodyLimit: number;
  apiKey: boolean;
  admin: boolean;
}

const COMPONENTS: Array<[string, z.ZodType]> = [
  ['Features', PredictFeaturesSchema],
  ['PredictRequest', PredictRequestSchema],
  ['PredictResponse', PredictResponseSchema],
  ['BatchRequest', BatchRequestSchema],
  ['BatchResponse', BatchResponseSchema],
  ['ValidationError', ValidationIssueSchema],
  ['HTTPValidationError', HTTPValidationErrorSchema],
  ['Error', ErrorSchema],
  ['ModelInfo', ModelInfoSchema],
  ['Welcome', WelcomeSchema],
  ['Health', HealthSchema],
  ['Ready', ReadySchema],
  ['ReloadResult', ReloadResultSchema],
];

function componentSchemas(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of COMPONENTS) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    uri: (id) => `#/components/schemas/${id}`,
    io: 'input',
    // Refinements have no JSON Schema form: say what they check.
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema === DateSchema)
        Object.assign(jsonSchema, { format: 'date', description: 'a real calendar day, YYYY-MM-DD' });
      if (zodSchema === LocationSchema)
        Object.assign(jsonSchema, { enum: [...LOCATION_NAMES], description: 'one of the 49 weatherAUS stations' });
    },
  });
  for (const s of Object.values(schemas)) {
    delete (s as { $schema?: string }).$schema;
    delete (s as { $id?: string }).$id;
  }
  (schemas.Features as Record<string, unknown>).example = EXAMPLE_FEATURES;
  (schemas.PredictResponse as Record<string, unknown>).example = {
    prediction_bool: 1,
    prediction_str: ANSWER_RAIN,
    probability: 0.8314,
    model: { name: MODEL_NAME, version: 1 },
  };
  return schemas;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (description: string, id: string, example?: unknown) => ({
  description,
  content: { 'application/json': { schema: ref(id), ...(example === undefined ? {} : { example }) } },
});

/** The OpenAPI 3.1 document of the API, generated from the zod schemas the handlers validate with. */
export function buildOpenApi(o: OpenApiOptions): Record<string, unknown> {
  const errors = (limit: number) => ({
    '400': json('The body is not valid JSON.', 'HTTPValidationError'),
    '413': json(`The body is larger than ${limit} bytes.`, 'Error'),
    '415': json('The body is not application/json.', 'Error'),
    '422': json('Validation error: one entry per invalid field.', 'HTTPValidationError'),
    '503': json('No model loaded yet.', 'Error'),
    ...(o.apiKey ? { '401': json('Missing or wrong API key.', 'Error') } : {}),
  });
  const security = o.apiKey ? { security: [{ apiKey: [] }] } : {};
  const predict = {
    tags: ['prediction'],
    summary: 'Will it rain tomorrow?',
    description:
      'Scores one day of weather at one station with the model the alias points at. Unknown fields are ignored.',
    ...security,
    requestBody: {
      required: true,
      content: { 'application/json': { schema: ref('PredictRequest'), example: { features: EXAMPLE_FEATURES } } },
    },
    responses: { '200': json('The prediction.', 'PredictResponse'), ...errors(o.bodyLimit) },
  };
  const get = (tag: string, summary: string, id: string, extra: Record<string, unknown> = {}) => ({
    get: { tags: [tag], summary, responses: { '200': json('OK', id), ...extra } },
  });
  const paths: Record<string, unknown> = {
    '/': get('service', 'Welcome', 'Welcome'),
    '/health': get('service', 'Liveness: the process answers', 'Health'),
    '/ready': get('service', 'Readiness: the version the alias points at is loaded', 'Ready', {
      '503': json(
        'No model loaded yet, or the one serving is not what the alias points at (a version that failed to load, a registry file that is gone); `reason` says which.',
        'Ready',
      ),
    }),
    '/model': get('service', 'The model version being served', 'ModelInfo', {
      '503': json('No model loaded yet.', 'Error'),
    }),
    '/metrics': {
      get: {
        tags: ['service'],
        summary: 'Prometheus metrics',
        responses: {
          '200': {
            description: 'Prometheus text format 0.0.4',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    '/predict': { post: { ...predict, operationId: 'predict' } },
    '/predict/': {
      post: { ...predict, operationId: 'predict_slash', description: `${predict.description} Same as POST /predict.` },
    },
    '/predict/batch': {
      post: {
        tags: ['prediction'],
        operationId: 'predict_batch',
        summary: `Score up to ${MAX_BATCH_ROWS} rows`,
        description:
          'Body `{"features": [ {...}, ... ]}` (a bare JSON array of feature objects is accepted too). ' +
          'Each invalid row gets its own `detail` with its index; the valid rows are scored all the same (200). ' +
          `The first ${MAX_DETAILED_ROWS} invalid rows are detailed; later ones get an empty \`detail\`, counted in \`details_omitted\`.`,
        ...security,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: ref('BatchRequest'), example: { features: [EXAMPLE_FEATURES] } } },
        },
        responses: { '200': json('One entry per row, in order.', 'BatchResponse'), ...errors(o.batchBodyLimit) },
      },
    },
  };
  if (o.admin) {
    paths['/admin/reload'] = {
      post: {
        tags: ['admin'],
        operationId: 'admin_reload',
        summary: 'Look at the alias now and load its version (retrying one that failed)',
        security: [{ adminToken: [] }],
        responses: {
          '200': json('What the reload did.', 'ReloadResult'),
          '401': json('Missing or wrong admin token.', 'Error'),
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'rainops',
      version: o.version,
      description:
        'Will it rain tomorrow at one of 49 Australian weather stations? A drop-in for the FastAPI service of the original stack.',
    },
    paths,
    components: {
      schemas: componentSchemas(),
      // Only what this server checks: Swagger UI shows an Authorize button whenever schemes are listed.
      ...(o.apiKey || o.admin
        ? {
            securitySchemes: {
              ...(o.apiKey
                ? {
                    apiKey: {
                      type: 'http',
                      scheme: 'bearer',
                      description: 'the --api-key (RAINOPS_API_KEY) of the server',
                    },
                  }
                : {}),
              ...(o.admin
                ? {
                    adminToken: {
                      type: 'http',
                      scheme: 'bearer',
                      description: 'the --admin-token (RAINOPS_ADMIN_TOKEN) of the server',
                    },
                  }
                : {}),
            },
          }
        : {}),
    },
  };
}
