import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { Transform, type Readable } from 'node:stream';
import type { Client } from 'minio';
import { DataError, IntegrityError, NotFoundError, RainopsError } from '../errors.js';
import { sha256, sha256File } from '../hash.js';
import { checkKey } from './keys.js';
import { describeFailure, isNotFound, readFailure, s3Error } from './s3-errors.js';
import type { S3Settings } from './s3-settings.js';
import type { ArtifactStore, PublishOutcome, PutResult, StoreEntry } from './types.js';

export type { S3Settings } from './s3-settings.js';

/** Tuning knobs; the defaults suit a CLI talking to MinIO or S3. */
export interface S3StoreOptions {
  /** Waits before each retry of a transient failure; its length + 1 is the number of attempts. Default 0.5, 1, 2 s. */
  retryDelaysMs?: readonly number[];
  /** Give up on a connection that is not established within this time. Default 5 s. */
  connectTimeoutMs?: number;
  /** Give up on a request during which nothing arrives for this long. Default 60 s. */
  idleTimeoutMs?: number;
  /** Files larger than this go up as a multipart upload in parts of this size (min 5 MiB). Default 16 MiB. */
  partSize?: number;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (info: { action: string; attempt: number; delayMs: number; reason: string }) => void;
}

/** The metadata header holding the sha256 of an object's bytes, checked on every read. */
export const SHA256_META = 'x-amz-meta-sha256';

const MiB = 1024 * 1024;

/** A store in an S3 bucket (MinIO, AWS, anything S3-compatible), under an optional key prefix. */
export function createS3Store(settings: S3Settings, options: S3StoreOptions = {}): ArtifactStore {
  const { bucket, prefix, endpoint, accessKey } = settings;
  const url = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
  const delays = options.retryDelaysMs ?? [500, 1000, 2000];
  const objectName = (key: string) => (prefix ? `${prefix}/${checkKey(key)}` : checkKey(key));
  const notFound = (key: string) => new NotFoundError(`store: ${key} does not exist in ${url}`);

  const partSize = Math.max(5 * MiB, options.partSize ?? 16 * MiB);
  let clientPromise: Promise<Client> | undefined;
  let bucketReady: Promise<void> | undefined;

  // Created on first use, so that opening a store (for --help, or a command that never reads) costs nothing.
  const client = (): Promise<Client> =>
    (clientPromise ??= import('minio').then(({ Client }) => {
      const u = new URL(endpoint);
      const useSSL = u.protocol === 'https:';
      return new Client({
        endPoint: u.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: u.port ? Number(u.port) : useSSL ? 443 : 80,
        useSSL,
        accessKey: settings.accessKey,
        secretKey: settings.secretKey,
        region: settings.region,
        pathStyle: true,
        // upload() never hands minio more than one part, so minio's own multipart path stays unused.
        partSize,
        transport: timedTransport(
          useSSL ? https : http,
          options.connectTimeoutMs ?? 5000,
          options.idleTimeoutMs ?? 60_000,
        ),
        // minio's own retry logs with console.warn and loses the S3 error code; ours does neither.
        retryOptions: { disableRetry: true },
      });
    }));

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** Runs one request, retrying transient failures; anything else fails at once as a RainopsError. */
  async function attempt<T>(action: string, fn: (c: Client) => Promise<T>): Promise<T> {
    const c = await client();
    for (let n = 1; ; n++) {
      try {
        return await fn(c);
      } catch (err) {
        if (err instanceof RainopsError) throw err;
        const f = readFailure(err);
        const delayMs = delays[n - 1];
        if (!f.transient || delayMs === undefined) {
          // The next call checks the bucket again rather than trusting a creation that someone undid.
          if (f.code === 'NoSuchBucket') bucketReady = undefined;
          throw s3Error(err, { endpoint, bucket, accessKey, action, attempts: n });
        }
        options.onRetry?.({ action, attempt: n, delayMs, reason: f.code });
        await sleep(delayMs);
      }
    }
  }

  async function createBucketIfMissing(): Promise<void> {
    const exists = await attempt(`checking bucket ${bucket}`, async (c) => {
      try {
        return await c.bucketExists(bucket);
      } catch (err) {
        // A HEAD answer has no body, so 403 cannot tell a wrong secret from a missing right; a GET can.
        if (readFailure(err).code === 'AccessDenied') throw (await listError(c)) ?? err;
        throw err;
      }
    });
    if (exists) return;
    await attempt(`creating bucket ${bucket}`, async (c) => {
      try {
        await c.makeBucket(bucket, settings.region);
      } catch (err) {
        const f = readFailure(err);
        // Another process created it between our check and our request.
        if (f.code === 'BucketAlreadyOwnedByYou') return;
        if (f.code === 'AccessDenied') {
          throw new RainopsError(
            `[rainops] [s3] bucket "${bucket}" does not exist at ${endpoint} and access key "${accessKey}" may not create it (AccessDenied); create the bucket (e.g. mc mb myminio/${bucket}) or use credentials that may`,
            { cause: err },
          );
        }
        if (f.code === 'NotFound' || f.code === 'MethodNotAllowed') {
          throw new RainopsError(
            `[rainops] [s3] ${endpoint} answered ${f.code} to creating bucket "${bucket}", which an S3 server does not; check that RAINOPS_S3_ENDPOINT is the S3 API (MinIO: port 9000, not the console on 9001)`,
            { cause: err },
          );
        }
        if (f.code === 'BucketAlreadyExists') {
          throw new RainopsError(
            `[rainops] [s3] bucket "${bucket}" belongs to another account at ${endpoint}; choose another bucket name in RAINOPS_STORE`,
            { cause: err },
          );
        }
        throw err;
      }
    });
  }

  async function listError(c: Client): Promise<unknown> {
    try {
      const s = c.listObjectsV2(bucket, '', false);
      for await (const _ of s) break;
      return undefined;
    } catch (err) {
      return err;
    }
  }

  const ready = async (): Promise<Client> => {
    bucketReady ??= createBucketIfMissing().catch((err: unknown) => {
      bucketReady = undefined;
      throw err;
    });
    await bucketReady;
    return client();
  };

  const integrity = (key: string, expected: string | undefined, actual: string) =>
    expected === undefined
      ? new IntegrityError(
          `store: ${key} in ${url} carries no sha256 (${SHA256_META}), so it was not written by rainops or was replaced outside it; write it again`,
        )
      : new IntegrityError(
          `store: ${key} in ${url} has sha256 ${actual} but ${expected} was recorded when it was written; it was changed outside rainops, so restore it or write it again`,
        );

  async function openObject(c: Client, key: string): Promise<{ body: Readable; expected: string | undefined }> {
    try {
      const body = await c.getObject(bucket, objectName(key));
      // minio answers with the http.IncomingMessage, whose headers carry the metadata of this very version.
      const headers = (body as Partial<http.IncomingMessage>).headers ?? {};
      const meta = headers[SHA256_META];
      return { body, expected: typeof meta === 'string' ? meta : undefined };
    } catch (err) {
      if (isNotFound(readFailure(err))) throw notFound(key);
      throw err;
    }
  }

  async function listEntries(keyPrefix: string): Promise<StoreEntry[]> {
    const c = await ready();
    const base = prefix ? `${prefix}/` : '';
    const entries = await attempt(`listing ${keyPrefix || '/'}`, async () => {
      const out: StoreEntry[] = [];
      for await (const item of c.listObjectsV2(bucket, base + keyPrefix, true)) {
        const { name, size, lastModified } = item as { name?: string; size?: number; lastModified?: Date };
        if (name !== undefined)
          out.push({ key: name.slice(base.length), size: size ?? 0, modified: lastModified ?? new Date(0) });
      }
      return out;
    });
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async function list(keyPrefix: string): Promise<string[]> {
    return (await listEntries(keyPrefix)).map((e) => e.key);
  }

  const meta = (digest: string) => ({ [SHA256_META]: digest, 'Content-Type': 'application/octet-stream' });

  /**
   * Writes one object: a single PUT when it fits in a part, else a multipart upload whose parts are
   * read one at a time and retried one at a time. Either way readers see the object only once whole.
   */
  async function upload(
    key: string,
    size: number,
    digest: string,
    readPart: (offset: number, length: number) => Promise<Buffer>,
    beforeComplete: () => void = () => undefined,
  ): Promise<void> {
    const name = objectName(key);
    const c = await ready();
    if (size <= partSize) {
      const buf = await readPart(0, size);
      beforeComplete();
      await attempt(`writing ${key}`, () => c.putObject(bucket, name, buf, buf.length, meta(digest)));
      return;
    }
    const uploadId = await attempt(`starting the upload of ${key}`, () =>
      c.initiateNewMultipartUpload(bucket, name, meta(digest)),
    );
    try {
      const etags: Array<{ part: number; etag: string }> = [];
      for (let offset = 0, part = 1; offset < size; offset += partSize, part++) {
        const chunk = await readPart(offset, Math.min(partSize, size - offset));
        const headers = { 'Content-MD5': createHash('md5').update(chunk).digest('base64') };
        const config = {
          bucketName: bucket,
          objectName: name,
          uploadID: encodeURIComponent(uploadId),
          partNumber: part,
          headers,
        };
        const { etag } = await attempt(`writing part ${part} of ${key}`, () => c.uploadPart(config, chunk));
        etags.push({ part, etag });
      }
      beforeComplete();
      await attempt(`completing the upload of ${key}`, async () => {
        try {
          await c.completeMultipartUpload(bucket, name, uploadId, etags);
        } catch (err) {
          // A retry after a lost answer finds the upload already completed: accept it if it is ours.
          if (readFailure(err).code !== 'NoSuchUpload') throw err;
          const stat = await c.statObject(bucket, name).catch(() => undefined);
          if (stat?.size !== size || stat.metaData.sha256 !== digest) throw err;
        }
      });
    } catch (err) {
      // The parts are discarded; readers keep seeing the previous object, if there was one.
      await c.abortMultipartUpload(bucket, name, uploadId).catch(() => undefined);
      throw err;
    }
  }

  async function put(key: string, body: Uint8Array | string): Promise<PutResult> {
    const buf =
      typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const digest = sha256(buf);
    await upload(key, buf.length, digest, async (offset, length) => buf.subarray(offset, offset + length));
    return { key, size: buf.length, sha256: digest };
  }

  async function exists(key: string): Promise<boolean> {
    const name = objectName(key);
    const c = await ready();
    return attempt(`checking ${key}`, async () => {
      try {
        await c.statObject(bucket, name);
        return true;
      } catch (err) {
        if (isNotFound(readFailure(err))) return false;
        throw err;
      }
    });
  }

  /**
   * A PUT with `If-None-Match: *`, which S3 and MinIO refuse (412) when the key exists. Servers that
   * ignore the header are covered by the existence check before it, all but a narrow race.
   */
  async function putIfAbsent(key: string, body: Uint8Array | string): Promise<PutResult | null> {
    if (await exists(key)) return null;
    const buf =
      typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (buf.length > partSize) {
      // Markers and owner records are small; a large body has no conditional multipart path here.
      return put(key, buf);
    }
    const digest = sha256(buf);
    const c = await ready();
    const written = await attempt(`writing ${key}`, async () => {
      try {
        await c.putObject(bucket, objectName(key), buf, buf.length, { ...meta(digest), 'If-None-Match': '*' });
        return true;
      } catch (err) {
        if (readFailure(err).code === 'PreconditionFailed') return false;
        throw err;
      }
    });
    return written ? { key, size: buf.length, sha256: digest } : null;
  }

  async function removePrefix(keyPrefix: string): Promise<void> {
    const dir = checkKey(keyPrefix.replace(/\/$/, ''));
    const c = await ready();
    const under = await list(`${dir}/`);
    // The prefix may also name an object itself; deleting an absent key is not an error in S3.
    const names = [objectName(dir), ...under.map(objectName)];
    const results = await attempt(`removing ${dir}/`, () => c.removeObjects(bucket, names));
    const failed = results.find((r) => r?.Error);
    if (failed?.Error) {
      const f = {
        code: failed.Error.Code ?? 'Error',
        message: failed.Error.Message ?? '',
        transient: false,
        fromS3: true,
      };
      throw new RainopsError(
        `[rainops] [s3] ${describeFailure(f, { endpoint, bucket, accessKey, action: `removing ${failed.Error.Key ?? dir}`, attempts: 1 })}`,
      );
    }
  }

  /**
   * S3 cannot move a folder, so publishing copies each staged object under the final prefix (server
   * side) and writes the marker last, only if absent; a set without its marker is not published.
   */
  async function publish(staging: string, final: string, marker: string): Promise<PublishOutcome> {
    const from = `${checkKey(staging.replace(/\/$/, ''))}/`;
    const to = `${checkKey(final.replace(/\/$/, ''))}/`;
    const staged = await list(from);
    if (!staged.includes(from + marker))
      throw new RainopsError(
        `store: cannot publish ${staging} to ${final} in ${url}: ${marker} was never written there`,
      );
    const drop = async (outcome: PublishOutcome) => {
      await removePrefix(from);
      return outcome;
    };
    if ((await list(to)).length > 0) return drop('exists');
    const c = await ready();
    for (const key of staged) {
      if (key === from + marker) continue;
      const target = to + key.slice(from.length);
      await attempt(`copying ${key} to ${target}`, () =>
        c.copyObject(bucket, objectName(target), `/${bucket}/${objectName(key)}`),
      );
    }
    const body = await get(from + marker);
    if ((await putIfAbsent(to + marker, body)) === null) {
      // Absent at our check, present now: another writer won, unless a retried PUT of ours landed first.
      const there = await get(to + marker).catch(() => null);
      if (there === null || sha256(there) !== sha256(body)) return drop('exists');
    }
    return drop('published');
  }

  async function get(key: string): Promise<Buffer> {
    const c = await ready();
    return attempt(`reading ${key}`, async () => {
      const { body, expected } = await openObject(c, key);
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      const buf = Buffer.concat(chunks);
      const actual = sha256(buf);
      if (actual !== expected) throw integrity(key, expected, actual);
      return buf;
    });
  }

  return {
    url,

    put,
    putIfAbsent,

    async putFile(key, localPath): Promise<PutResult> {
      const file = await open(localPath, 'r');
      try {
        const { size } = await file.stat();
        if (size <= partSize) return await put(key, await file.readFile());
        // The digest travels in the upload's first request, so a first pass computes it; the
        // second pass hashes again and the upload completes only if both agree.
        const { sha256: digest } = await sha256File(localPath);
        const again = createHash('sha256');
        const changed = () =>
          new DataError(
            `store: ${localPath} changed while it was being uploaded to ${url}/${key}; upload it again once nothing is writing to it`,
          );
        const readPart = async (offset: number, length: number) => {
          const buf = Buffer.alloc(length);
          for (let got = 0; got < length; ) {
            const { bytesRead } = await file.read(buf, got, length - got, offset + got);
            if (bytesRead === 0) throw changed();
            got += bytesRead;
          }
          again.update(buf);
          return buf;
        };
        await upload(key, size, digest, readPart, () => {
          if (again.digest('hex') !== digest) throw changed();
        });
        return { key, size, sha256: digest };
      } finally {
        await file.close();
      }
    },

    get,

    async stream(key): Promise<Readable> {
      const c = await ready();
      const { body, expected } = await attempt(`reading ${key}`, () => openObject(c, key));
      // Mid-stream failures cannot be retried transparently; they reach the reader as RainopsErrors.
      const hash = createHash('sha256');
      const checked = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          cb(null, chunk);
        },
        flush(cb) {
          const actual = hash.digest('hex');
          cb(actual === expected ? null : integrity(key, expected, actual));
        },
      });
      body.on('error', (err) =>
        checked.destroy(s3Error(err, { endpoint, bucket, accessKey, action: `reading ${key}`, attempts: 1 })),
      );
      // A reader that stops early must not leave the connection open until the idle timeout.
      checked.on('close', () => body.destroy());
      return body.pipe(checked);
    },

    exists,

    list,

    listEntries,

    publish,

    removePrefix,
  };
}

/**
 * http(s).request with two deadlines: one to connect (a firewalled host never refuses, it just
 * swallows packets) and one for silence during a request, so a dead server fails instead of hanging.
 */
function timedTransport(
  base: typeof http | typeof https,
  connectMs: number,
  idleMs: number,
): Pick<typeof http, 'request'> {
  const timeout = (what: string, ms: number) =>
    Object.assign(new Error(`${what} within ${ms} ms`), { code: 'ETIMEDOUT' });
  const request = (opts: http.RequestOptions, callback?: (res: http.IncomingMessage) => void): http.ClientRequest => {
    const req = base.request(opts, callback);
    req.setTimeout(idleMs, () => req.destroy(timeout('no answer', idleMs)));
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => req.destroy(timeout('no connection', connectMs)), connectMs);
      socket.once('connect', () => clearTimeout(timer));
      req.once('close', () => clearTimeout(timer));
    });
    return req;
  };
  // minio calls request(options, callback) only; the cast spares us re-declaring every overload.
  return { request: request as typeof http.request };
}
