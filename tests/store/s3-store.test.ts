import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError, RainopsError, UsageError } from '../../src/core/errors.js';
import { sha256 } from '../../src/core/hash.js';
import { openStore } from '../../src/core/store/index.js';
import { createS3Store, type S3StoreOptions } from '../../src/core/store/s3-store.js';
import { s3SettingsFromEnv } from '../../src/core/store/s3-settings.js';
import { testStore } from './contract.js';
import { closedPort, freshBucket, startS3, type S3Target } from './s3-server.js';
import { tempDir } from '../helpers/temp.js';

let s3: S3Target;
const bucket = freshBucket('c');

beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.close();
});

const settings = (
  over: Partial<{ bucket: string; prefix: string; endpoint: string; accessKey: string; secretKey: string }> = {},
) => ({
  bucket,
  prefix: `p-${randomBytes(4).toString('hex')}`,
  endpoint: s3.endpoint,
  accessKey: s3.accessKey,
  secretKey: s3.secretKey,
  region: 'us-east-1',
  ...over,
});
const fast: S3StoreOptions = { retryDelaysMs: [20, 40, 80] };
const makeStore = (over: Parameters<typeof settings>[0] = {}, opts: S3StoreOptions = fast) =>
  createS3Store(settings(over), opts);

/** Runs fn and returns what it threw, with how long that took and how many retries were announced. */
async function failure(run: (opts: S3StoreOptions) => Promise<unknown>, opts: S3StoreOptions = fast) {
  let retries = 0;
  const t0 = Date.now();
  const err = await run({ ...opts, onRetry: () => void retries++ }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err: err as Error, retries, ms: Date.now() - t0 };
}

testStore('s3 (under a prefix)', () => makeStore());
testStore('s3 (bucket root)', () => makeStore({ bucket: freshBucket('r'), prefix: '' }));

describe('s3 store', () => {
  it('publishes by server-side copies with the marker written last, only if absent', async () => {
    const prefix = `p-${randomBytes(4).toString('hex')}`;
    const store = makeStore({ prefix });
    await store.put('staging/r/d/x/a.csv', 'a');
    await store.put('staging/r/d/x/b.csv', 'b');
    await store.put('staging/r/d/x/manifest.json', '{}');
    const from = s3.requests.length;
    expect(await store.publish('staging/r/d/x', 'd/x', 'manifest.json')).toBe('published');
    // The published objects keep the sha256 every read checks.
    expect((await store.get('d/x/a.csv')).toString()).toBe('a');
    if (s3.kind !== 's3rver') return;
    const writes = s3.requests.slice(from).filter((r) => r.startsWith(`PUT /${bucket}/${prefix}/d/x/`));
    expect(writes.map((r) => r.split('?')[0])).toEqual([
      `PUT /${bucket}/${prefix}/d/x/a.csv`,
      `PUT /${bucket}/${prefix}/d/x/b.csv`,
      `PUT /${bucket}/${prefix}/d/x/manifest.json`,
    ]);
  });

  it('creates a missing bucket on first use', async () => {
    const b = freshBucket('new');
    const raw = s3.client();
    expect(await raw.bucketExists(b)).toBe(false);
    const store = makeStore({ bucket: b, prefix: '' });
    expect(await store.exists('x')).toBe(false);
    expect(await raw.bucketExists(b)).toBe(true);
  });

  it('records the sha256 as object metadata', async () => {
    const store = makeStore({ prefix: 'meta' });
    const r = await store.put('m.txt', 'metadata');
    const stat = await s3.client().statObject(bucket, 'meta/m.txt');
    expect(stat.metaData.sha256).toBe(r.sha256);
  });

  it('lists keys relative to its prefix and never a sibling prefix', async () => {
    const a = makeStore({ prefix: 'sib/a' });
    const ab = makeStore({ prefix: 'sib/ab' });
    await a.put('x/1.txt', '1');
    await ab.put('x/2.txt', '2');
    expect(await a.list('')).toEqual(['x/1.txt']);
    await a.removePrefix('x');
    expect(await ab.list('')).toEqual(['x/2.txt']);
  });

  it('uploads a file larger than a part as a multipart upload and reads it back intact', async () => {
    const dir = tempDir('rainops-s3-');
    const local = join(dir, 'big.bin');
    const body = randomBytes(11 * 1024 * 1024 + 7);
    writeFileSync(local, body);
    const prefix = `mp-${randomBytes(3).toString('hex')}`;
    const store = makeStore({ prefix }, { ...fast, partSize: 5 * 1024 * 1024 });
    const r = await store.putFile('big.bin', local);
    expect(r).toEqual({ key: 'big.bin', size: body.length, sha256: sha256(body) });
    const stat = await s3.client().statObject(bucket, `${prefix}/big.bin`);
    // Three parts went up; MinIO marks a multipart object's ETag with -<parts>, s3rver does not.
    if (s3.kind === 's3rver')
      expect(
        s3.requests.filter((r) => r.startsWith(`PUT /${bucket}/${prefix}/big.bin?`) && /[?&]partNumber=/.test(r)),
      ).toHaveLength(3);
    else expect(stat.etag).toMatch(/-3$/);
    // The digest travelled with the upload's first request.
    expect(stat.metaData.sha256).toBe(r.sha256);
    expect(sha256(await store.get('big.bin'))).toBe(sha256(body));
  });

  it.each([
    ['old metadata', true],
    ['no metadata', false],
  ])('refuses an object replaced behind its back (%s) with IntegrityError', async (_name, keepMeta) => {
    const prefix = `tamper-${randomBytes(3).toString('hex')}`;
    const store = makeStore({ prefix });
    const r = await store.put('t.txt', 'the original');
    const meta = keepMeta ? { 'x-amz-meta-sha256': r.sha256 } : {};
    await s3.client().putObject(bucket, `${prefix}/t.txt`, Buffer.from('the tampered!'), undefined, meta);
    await expect(store.get('t.txt')).rejects.toBeInstanceOf(IntegrityError);
    const read = async () => {
      for await (const _ of await store.stream('t.txt')) void _;
    };
    await expect(read()).rejects.toBeInstanceOf(IntegrityError);
  });

  it('fails at once, without retries, on a wrong secret key, naming the setting', async () => {
    const { err, retries } = await failure((o) => makeStore({ secretKey: 'not-the-secret' }, o).put('a.txt', 'x'));
    expect(err).toBeInstanceOf(RainopsError);
    expect(err.message).toMatch(/credentials/);
    expect(err.message).toMatch(/RAINOPS_S3_SECRET_KEY/);
    expect(err.message).not.toMatch(/\n/);
    expect(retries).toBe(0);
  });

  it('fails at once on an unknown access key, naming the setting', async () => {
    const { err, retries } = await failure((o) =>
      makeStore({ accessKey: 'NOBODY', bucket: freshBucket('ak') }, o).get('a.txt'),
    );
    expect(err).toBeInstanceOf(RainopsError);
    expect(err.message).toMatch(/credentials.*RAINOPS_S3_ACCESS_KEY/);
    expect(retries).toBe(0);
  });
});

describe('s3 store failures (local fake servers)', () => {
  it('reports an endpoint that refuses connections after a bounded number of retries', async () => {
    const port = await closedPort();
    const { err, retries, ms } = await failure((o) =>
      makeStore({ endpoint: `http://127.0.0.1:${port}` }, o).put('a.txt', 'x'),
    );
    expect(err).toBeInstanceOf(RainopsError);
    expect(err.message).toBe(
      `[rainops] [s3] cannot reach http://127.0.0.1:${port} (ECONNREFUSED); is the server running?`,
    );
    expect(retries).toBe(3);
    expect(ms).toBeLessThan(10_000);
  });

  it('gives up on a server that accepts connections but never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as { port: number };
    try {
      const { err, retries } = await failure((o) =>
        makeStore({ endpoint: `http://127.0.0.1:${port}` }, { ...o, idleTimeoutMs: 200 }).get('a.txt'),
      );
      expect(err.message).toMatch(/cannot reach .* \(ETIMEDOUT\)/);
      expect(retries).toBe(3);
    } finally {
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });

  it('retries 5xx answers and connection resets, then succeeds', async () => {
    const faults: Fault[] = ['503', 'reset', '503'];
    const proxy = await faultyProxy(() => faults.shift());
    try {
      let retries = 0;
      const store = makeStore({ endpoint: proxy.endpoint }, { ...fast, onRetry: () => void retries++ });
      await store.put('r.txt', 'retried');
      expect((await store.get('r.txt')).toString()).toBe('retried');
      expect(retries).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  it('retries a failed part on its own, not the whole upload', async () => {
    let failed = false;
    const proxy = await faultyProxy((req) => {
      if (failed || req.method !== 'PUT' || !/[?&]partNumber=2/.test(req.url ?? '')) return undefined;
      failed = true;
      return '503';
    });
    try {
      const store = makeStore({ endpoint: proxy.endpoint }, { ...fast, partSize: 5 * 1024 * 1024 });
      const body = randomBytes(12 * 1024 * 1024);
      await store.put('parts.bin', body);
      expect(sha256(await store.get('parts.bin'))).toBe(sha256(body));
      expect(proxy.seen.filter((r) => r.startsWith('PUT ') && /partNumber=/.test(r))).toHaveLength(4);
      expect(proxy.seen.filter((r) => r.startsWith('POST ') && /[?&]uploads/.test(r))).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it('leaves nothing behind when a multipart upload cannot complete', async () => {
    const proxy = await faultyProxy((req) =>
      req.method === 'POST' && /[?&]uploadId=/.test(req.url ?? '') ? '400' : undefined,
    );
    try {
      const store = makeStore({ endpoint: proxy.endpoint }, { ...fast, partSize: 5 * 1024 * 1024 });
      const { err, retries } = await failure((o) =>
        makeStore({ endpoint: proxy.endpoint }, { ...o, partSize: 5 * 1024 * 1024 }).put(
          'half.bin',
          randomBytes(6 * 1024 * 1024),
        ),
      );
      expect(err).toBeInstanceOf(RainopsError);
      expect(err.message).toMatch(/InvalidPart/);
      expect(retries).toBe(0);
      expect(await store.exists('half.bin')).toBe(false);
      expect(proxy.seen.some((r) => r.startsWith('DELETE ') && /[?&]uploadId=/.test(r))).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('says so when the bucket is missing and the credentials may not create it', async () => {
    const fake = http.createServer((req, res) => {
      if (req.method === 'HEAD') res.writeHead(404).end();
      else
        res
          .writeHead(403, { 'content-type': 'application/xml' })
          .end('<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>');
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const { port } = fake.address() as { port: number };
    try {
      const { err, retries } = await failure((o) =>
        makeStore({ endpoint: `http://127.0.0.1:${port}`, bucket: 'locked' }, o).put('a.txt', 'x'),
      );
      expect(err).toBeInstanceOf(RainopsError);
      expect(err.message).toMatch(/bucket "locked" does not exist .* may not create it/);
      expect(retries).toBe(0);
    } finally {
      fake.closeAllConnections();
      fake.close();
    }
  });
});

type Fault = '503' | 'reset' | '400' | undefined;

/** A proxy to the test server that can fail chosen requests; it logs `METHOD url` of each. */
async function faultyProxy(fault: (req: http.IncomingMessage) => Fault) {
  const upstream = new URL(s3.endpoint);
  const seen: string[] = [];
  const proxy = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const f = fault(req);
    if (f === '503' || f === '400') {
      const code = f === '503' ? 'ServiceUnavailable' : 'InvalidPart';
      req.resume();
      res
        .writeHead(Number(f), { 'content-type': 'application/xml' })
        .end(`<Error><Code>${code}</Code><Message>injected</Message></Error>`);
      return;
    }
    if (f === 'reset') {
      req.socket.destroy();
      return;
    }
    // Headers pass unchanged, Host included, so the signature still matches upstream.
    const up = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (u) => {
        res.writeHead(u.statusCode ?? 502, u.headers);
        u.pipe(res);
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const { port } = proxy.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    close: async () => {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    },
  };
}

describe('s3 settings', () => {
  const env = {
    RAINOPS_S3_ENDPOINT: 'http://127.0.0.1:9000',
    RAINOPS_S3_ACCESS_KEY: 'ak',
    RAINOPS_S3_SECRET_KEY: 'sk',
  };

  it('reads the bucket, prefix and settings, with us-east-1 as the default region', () => {
    expect(s3SettingsFromEnv('s3://rain/team/x/', env)).toEqual({
      bucket: 'rain',
      prefix: 'team/x',
      endpoint: 'http://127.0.0.1:9000',
      accessKey: 'ak',
      secretKey: 'sk',
      region: 'us-east-1',
    });
    expect(s3SettingsFromEnv('s3://rain', { ...env, RAINOPS_S3_REGION: 'eu-west-1' })).toMatchObject({
      prefix: '',
      region: 'eu-west-1',
    });
    expect(openStore('s3://rain/x', { cwd: '/', env }).url).toBe('s3://rain/x');
  });

  it.each([
    ['RAINOPS_S3_ENDPOINT', /^\[rainops\] \[s3\] missing RAINOPS_S3_ENDPOINT; /],
    ['RAINOPS_S3_ACCESS_KEY', /^\[rainops\] \[s3\] missing RAINOPS_S3_ACCESS_KEY; /],
    ['RAINOPS_S3_SECRET_KEY', /^\[rainops\] \[s3\] missing RAINOPS_S3_SECRET_KEY; /],
  ])('names a missing %s', (name, message) => {
    const partial: Record<string, string | undefined> = { ...env, [name]: undefined };
    expect(() => openStore('s3://rain/x', { cwd: '/', env: partial })).toThrow(message);
    expect(() => openStore('s3://rain/x', { cwd: '/', env: { ...env, [name]: ' ' } })).toThrow(UsageError);
  });

  it('rejects a bad endpoint, bucket or prefix', () => {
    expect(() => s3SettingsFromEnv('s3://rain', { ...env, RAINOPS_S3_ENDPOINT: 'ftp://x' })).toThrow(
      /RAINOPS_S3_ENDPOINT must be an http/,
    );
    expect(() => s3SettingsFromEnv('s3://rain', { ...env, RAINOPS_S3_ENDPOINT: 'http://x:9000/rain' })).toThrow(
      /has a path/,
    );
    expect(() => s3SettingsFromEnv('s3://Rain_Bucket/x', env)).toThrow(/not a valid bucket name/);
    expect(() => s3SettingsFromEnv('s3://rain/a/../b', env)).toThrow(UsageError);
  });
});
