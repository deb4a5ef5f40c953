import { RainopsError } from '../errors.js';

/** What a failed request tells about the cause, read from minio's errors and Node's socket errors. */
export interface S3Failure {
  /** An S3 error code (NoSuchKey, SignatureDoesNotMatch), a socket code (ECONNREFUSED) or `HTTP 503`. */
  code: string;
  message: string;
  /** Worth trying again: the server or the network may recover (5xx, resets, timeouts). */
  transient: boolean;
  /** The server or network answered, rather than rainops or minio rejecting an argument. */
  fromS3: boolean;
}

const NETWORK_TRANSIENT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'ENETDOWN',
  'EHOSTDOWN',
]);
// A wrong host name will not start resolving on the next try.
const NETWORK_FINAL = new Set(['ENOTFOUND']);
const S3_TRANSIENT = new Set([
  'InternalError',
  'ServiceUnavailable',
  'SlowDown',
  'RequestTimeout',
  'XMinioServerNotInitialized',
  'OperationAborted',
]);

export function readFailure(err: unknown): S3Failure {
  const e = (err ?? {}) as { code?: unknown; message?: unknown; name?: unknown };
  const message = typeof e.message === 'string' ? e.message.replace(/\s+/g, ' ').trim() : String(err);
  const code = typeof e.code === 'string' ? e.code : '';
  if (NETWORK_TRANSIENT.has(code) || NETWORK_FINAL.has(code))
    return { code, message, transient: NETWORK_TRANSIENT.has(code), fromS3: true };
  // minio v8 turns a 5xx/429 answer into a plain Error once its own retries (disabled here) run out.
  const status = /Retryable HTTP status: (\d{3})/.exec(message)?.[1];
  if (status) return { code: `HTTP ${status}`, message, transient: true, fromS3: true };
  if (/socket hang up/i.test(message)) return { code: 'ECONNRESET', message, transient: true, fromS3: true };
  if (e.name === 'S3Error' && code !== '') return { code, message, transient: S3_TRANSIENT.has(code), fromS3: true };
  return { code: code || (typeof e.name === 'string' ? e.name : 'Error'), message, transient: false, fromS3: false };
}

export function isNotFound(f: S3Failure): boolean {
  return f.code === 'NoSuchKey' || f.code === 'NotFound';
}

export interface FailureContext {
  endpoint: string;
  bucket: string;
  accessKey: string;
  /** What was being done, e.g. `writing datasets/x/raw.csv`. */
  action: string;
  attempts: number;
}

/** One line saying what went wrong and what to do about it. */
export function describeFailure(f: S3Failure, ctx: FailureContext): string {
  const { endpoint, bucket, accessKey, action, attempts } = ctx;
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  if (f.code === 'ENOTFOUND')
    return `cannot reach ${endpoint} (ENOTFOUND: the host name does not resolve); check RAINOPS_S3_ENDPOINT`;
  if (NETWORK_TRANSIENT.has(f.code)) return `cannot reach ${endpoint} (${f.code}); is the server running?`;
  switch (f.code) {
    case 'InvalidAccessKeyId':
      return `${endpoint} rejected the credentials: it knows no access key "${accessKey}" (InvalidAccessKeyId); check RAINOPS_S3_ACCESS_KEY`;
    case 'SignatureDoesNotMatch':
      return `${endpoint} rejected the credentials: the secret key does not match access key "${accessKey}" (SignatureDoesNotMatch); check RAINOPS_S3_SECRET_KEY`;
    case 'AccessDenied':
      return `${endpoint} denied ${action} in bucket "${bucket}" (AccessDenied); check the credentials in RAINOPS_S3_ACCESS_KEY and RAINOPS_S3_SECRET_KEY and that this user may read and write the bucket`;
    case 'NoSuchBucket':
      return `bucket "${bucket}" does not exist at ${endpoint} (it was removed while rainops ran?); run the command again to create it`;
    case 'RequestTimeTooSkewed':
      return `${endpoint} refused ${action} because this machine's clock is off (RequestTimeTooSkewed); set the clock right (NTP) and try again`;
  }
  if (f.transient)
    return `${endpoint} kept failing while ${action} (${f.code})${tries}; check the server's health and logs, then try again`;
  return `${endpoint} refused ${action} (${f.code}: ${f.message}); check the server's logs`;
}

/** The RainopsError for a failed request, keeping the original as its cause. */
export function s3Error(err: unknown, ctx: FailureContext): Error {
  if (err instanceof RainopsError) return err;
  const f = readFailure(err);
  // Programming errors (a TypeError in our code) must stay visible as such, not pass for a server problem.
  if (
    !f.fromS3 &&
    err instanceof Error &&
    ['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError'].includes(err.name)
  )
    return err;
  return new RainopsError(`[rainops] [s3] ${describeFailure(f, ctx)}`, { cause: err });
}
