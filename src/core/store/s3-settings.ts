import { z } from 'zod';
import { UsageError } from '../errors.js';

/** Where an s3 store lives and how to sign in to it; built from `s3://BUCKET[/PREFIX]` and RAINOPS_S3_*. */
export interface S3Settings {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing `/`; '' for the bucket root. */
  prefix: string;
  /** `http(s)://host[:port]`, no path. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

function fail(message: string): never {
  throw new UsageError(`[rainops] [s3] ${message}`);
}

// Names as S3 itself accepts them (3-63 chars, lowercase, no leading/trailing dot or dash).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const HINTS: Record<string, string> = {
  RAINOPS_S3_ENDPOINT: 'set it to the server URL, e.g. http://127.0.0.1:9000',
  RAINOPS_S3_ACCESS_KEY: 'set it to the access key id (for MinIO, MINIO_ROOT_USER or a user you created)',
  RAINOPS_S3_SECRET_KEY: 'set it to the secret key that goes with RAINOPS_S3_ACCESS_KEY',
};

const required = (name: keyof typeof HINTS & string) =>
  z
    .string({ error: `missing ${name}; ${HINTS[name]}` })
    .trim()
    .min(1, { error: `missing ${name}; ${HINTS[name]}` });

const EnvSchema = z.object({
  RAINOPS_S3_ENDPOINT: required('RAINOPS_S3_ENDPOINT').pipe(
    z.url({
      protocol: /^https?$/,
      error: 'RAINOPS_S3_ENDPOINT must be an http:// or https:// URL such as http://127.0.0.1:9000',
    }),
  ),
  RAINOPS_S3_ACCESS_KEY: required('RAINOPS_S3_ACCESS_KEY'),
  RAINOPS_S3_SECRET_KEY: required('RAINOPS_S3_SECRET_KEY'),
  RAINOPS_S3_REGION: z
    .string()
    .trim()
    .optional()
    .transform((r) => (r ? r : 'us-east-1')),
});

/** Validates an `s3://` store URL and the RAINOPS_S3_* settings; a problem is a UsageError naming the variable. */
export function s3SettingsFromEnv(url: string, env: Record<string, string | undefined>): S3Settings {
  const rest = url.replace(/^s3:\/\//, '');
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
  if (!BUCKET.test(bucket)) {
    fail(
      `"${bucket}" in ${url} is not a valid bucket name; use 3-63 lowercase letters, digits, dots or dashes, as in s3://rainops/prod`,
    );
  }
  if (prefix !== '' && prefix.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    fail(
      `the prefix "${prefix}" in ${url} has empty, "." or ".." parts; use a plain path such as s3://${bucket}/team/rain`,
    );
  }
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) fail(parsed.error.issues[0]!.message);
  const s = parsed.data;
  const endpoint = new URL(s.RAINOPS_S3_ENDPOINT);
  if (endpoint.pathname !== '/' || endpoint.search !== '') {
    fail(
      `RAINOPS_S3_ENDPOINT ${s.RAINOPS_S3_ENDPOINT} has a path; give only the server, e.g. ${endpoint.origin}, and put the bucket in RAINOPS_STORE`,
    );
  }
  return {
    bucket,
    prefix,
    endpoint: endpoint.origin,
    accessKey: s.RAINOPS_S3_ACCESS_KEY,
    secretKey: s.RAINOPS_S3_SECRET_KEY,
    region: s.RAINOPS_S3_REGION,
  };
}
