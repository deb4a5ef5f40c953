import type { InterruptHook } from '../core/context.js';

/** The outside world as the CLI sees it, so tests can run commands in-process. */
export interface CliIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
  /** Cleanup to run on SIGINT/SIGTERM (main() provides it; in-process runs need none). */
  onInterrupt?: InterruptHook | undefined;
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() };
}
