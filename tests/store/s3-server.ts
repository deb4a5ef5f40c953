import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import S3rver from '@20minutes/s3rver';
import { Client } from 'minio';

/** An S3-compatible server for tests: a real MinIO when RAINOPS_TEST_S3_* is set, else s3rver in a temp dir. */
export interface S3Target {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  kind: 'minio' | 's3rver';
  /** `METHOD /path?query` of each request s3rver received (empty for MinIO). */
  requests: string[];
  /** A plain client, to look at or tamper with objects behind the store's back. */
  client(): Client;
  close(): Promise<void>;
}

export async function startS3(): Promise<S3Target> {
  const env = process.env;
  if (env.RAINOPS_TEST_S3_ENDPOINT) {
    return target(
      env.RAINOPS_TEST_S3_ENDPOINT,
      env.RAINOPS_TEST_S3_ACCESS_KEY ?? 'minioadmin',
      env.RAINOPS_TEST_S3_SECRET_KEY ?? 'minioadmin',
      'minio',
      [],
      async () => undefined,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'rainops-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
  const requests: string[] = [];
  // Logs requests so tests can see, say, that a large file went up in parts.
  server.middleware.unshift(async (ctx, next) => {
    requests.push(`${ctx.method} ${ctx.url}`);
    await next();
  });
  const { port } = await server.run();
  return target(`http://127.0.0.1:${port}`, 'S3RVER', 'S3RVER', 's3rver', requests, async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

function target(
  endpoint: string,
  accessKey: string,
  secretKey: string,
  kind: S3Target['kind'],
  requests: string[],
  close: () => Promise<void>,
): S3Target {
  const u = new URL(endpoint);
  const useSSL = u.protocol === 'https:';
  const client = () =>
    new Client({
      endPoint: u.hostname,
      port: u.port ? Number(u.port) : useSSL ? 443 : 80,
      useSSL,
      accessKey,
      secretKey,
      pathStyle: true,
      region: 'us-east-1',
    });
  return { endpoint, accessKey, secretKey, kind, requests, client, close };
}

/** A bucket name no other test uses, so runs against a shared MinIO do not collide. */
export function freshBucket(tag = 't'): string {
  return `rainops-${tag}-${randomBytes(5).toString('hex')}`;
}

/** A port on which nothing listens: bound, read, released. */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}
