// @20minutes/s3rver (a maintained s3rver fork that checks SigV4 signatures) ships no types.
declare module '@20minutes/s3rver' {
  import type { AddressInfo } from 'node:net';

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
  }

  interface KoaContext {
    method: string;
    path: string;
    url: string;
    query: Record<string, string | string[] | undefined>;
    type: string;
    body: unknown;
  }

  class S3rver {
    constructor(options: S3rverOptions);
    /** Koa's middleware list; s3rver extends Koa. */
    middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void> | void>;
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }

  export = S3rver;
}
