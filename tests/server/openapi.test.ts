import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/context.js';
import { EXAMPLE_FEATURES } from '../../src/core/dataset/example.js';
import { PredictFeaturesSchema } from '../../src/core/dataset/schema.js';
import { createApp } from '../../src/core/server/app.js';
import type { AppDeps } from '../../src/core/server/app.js';
import { createMetrics } from '../../src/core/server/metrics.js';
import { buildOpenApi } from '../../src/core/server/openapi.js';
import type { OpenApiOptions } from '../../src/core/server/openapi.js';
import { BatchRequestSchema, PredictRequestSchema, PredictResponseSchema } from '../../src/core/server/schemas.js';

type Doc = {
  info: { version: string };
  paths: Record<
    string,
    Record<
      string,
      {
        security?: unknown;
        requestBody?: { content: Record<string, { example?: unknown }> };
        responses: Record<string, unknown>;
      }
    >
  >;
  components: { schemas: Record<string, Record<string, unknown>>; securitySchemes?: Record<string, unknown> };
};

const base: OpenApiOptions = {
  version: '1.2.3',
  bodyLimit: 65536,
  batchBodyLimit: 1 << 20,
  apiKey: false,
  admin: false,
};
const doc = (o: Partial<OpenApiOptions> = {}) =>
  buildOpenApi({ ...base, ...o }) as unknown as Doc & Record<string, unknown>;
const VARIANTS: Array<Partial<OpenApiOptions>> = [{}, { apiKey: true }, { admin: true }, { apiKey: true, admin: true }];

/** The app with no model loaded: enough to see which routes exist. */
function app(o: Partial<OpenApiOptions>) {
  const holder: AppDeps['holder'] = {
    model: 'm',
    alias: 'prod_best',
    current: () => null,
    refresh: async () => ({ changed: false }) as never,
  };
  return createApp({
    holder,
    metrics: createMetrics(),
    logger: silentLogger,
    options: { ...(o.apiKey ? { apiKey: 'k' } : {}), ...(o.admin ? { adminToken: 't' } : {}) },
  });
}

/** Every `$ref` anywhere in a value. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe('the OpenAPI document', () => {
  it.each(VARIANTS)('is a valid OpenAPI 3.1 document (%o)', async (o) => {
    const result = await new Validator().validate(doc(o));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('is checked by a validator that does reject a broken document', async () => {
    const broken = doc();
    (broken.paths['/predict']!.post!.responses as Record<string, unknown>)['200'] = { content: {} };
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it.each(VARIANTS)('resolves every $ref to a component schema (%o)', (o) => {
    const d = doc(o);
    const all = refs(d);
    expect(all.length).toBeGreaterThan(10);
    for (const r of all) expect(Object.keys(d.components.schemas)).toContain(r.replace('#/components/schemas/', ''));
  });

  it.each(VARIANTS)('documents exactly the routes the app serves (%o)', async (o) => {
    const served = app(o);
    const documented = Object.entries(doc(o).paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    // Every documented operation exists: neither 404 nor 405.
    for (const op of documented) {
      const [method, path] = op.split(' ') as [string, string];
      const res = await served.request(path, { method });
      expect([404, 405], op).not.toContain(res.status);
    }
    // Every route the app answers is documented, but for the document itself and the pages that show it.
    const answered: string[] = [];
    for (const { method, path } of served.routes) {
      if (!['GET', 'POST'].includes(method) || path.includes('*') || path.includes(':')) continue;
      const res = await served.request(path, { method });
      if (res.status !== 404 && res.status !== 405) answered.push(`${method} ${path}`);
    }
    const undocumented = [...new Set(answered)].filter(
      (op) => !documented.includes(op) && !/ \/(openapi\.json|docs)/.test(op),
    );
    expect(undocumented).toEqual([]);
  });

  it('asks for credentials only where the server checks them', () => {
    expect(doc().components.securitySchemes).toBeUndefined();
    expect(doc().paths['/predict']!.post!.security).toBeUndefined();
    expect(doc().paths['/admin/reload']).toBeUndefined();
    const locked = doc({ apiKey: true, admin: true });
    expect(Object.keys(locked.components.securitySchemes!).sort()).toEqual(['adminToken', 'apiKey']);
    expect(locked.paths['/predict']!.post!.security).toEqual([{ apiKey: [] }]);
    expect(locked.paths['/predict']!.post!.responses['401']).toBeDefined();
    expect(locked.paths['/admin/reload']!.post!.security).toEqual([{ adminToken: [] }]);
  });

  it('states the body limits it was built with', () => {
    const d = doc({ bodyLimit: 1234, batchBodyLimit: 98765 });
    expect(JSON.stringify(d.paths['/predict']!.post!.responses['413'])).toContain('1234 bytes');
    expect(JSON.stringify(d.paths['/predict/batch']!.post!.responses['413'])).toContain('98765 bytes');
    expect(d.info.version).toBe('1.2.3');
  });

  it('gives examples that the zod schemas the handlers use accept', () => {
    const d = doc();
    expect(d.components.schemas.Features!.example).toEqual(EXAMPLE_FEATURES);
    expect(PredictFeaturesSchema.safeParse(d.components.schemas.Features!.example).success).toBe(true);
    expect(
      PredictRequestSchema.safeParse(d.paths['/predict']!.post!.requestBody!.content['application/json']!.example)
        .success,
    ).toBe(true);
    expect(
      BatchRequestSchema.safeParse(d.paths['/predict/batch']!.post!.requestBody!.content['application/json']!.example)
        .success,
    ).toBe(true);
    expect(PredictResponseSchema.safeParse(d.components.schemas.PredictResponse!.example).success).toBe(true);
  });

  it('lists every field of a day, each station, and the date format', () => {
    const features = doc().components.schemas.Features as {
      properties: Record<string, { enum?: string[]; format?: string }>;
      required: string[];
    };
    expect(Object.keys(features.properties).sort()).toEqual(Object.keys(EXAMPLE_FEATURES).sort());
    expect(features.properties.Location!.enum).toHaveLength(49);
    expect(features.properties.Date!.format).toBe('date');
  });
});
