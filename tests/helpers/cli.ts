import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { run } from '../../src/cli.js';
import { tempDir } from './temp.js';

export const WEATHER_CSV = resolve(__dirname, '../../../shared/data/weatherAUS.csv');

export { tempDir };

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with its own RAINOPS_HOME, capturing what it prints. */
export async function cli(argv: string[], env: Record<string, string | undefined> = {}, cwd = tempDir()): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const stdin = new PassThrough();
  stdin.end();
  const code = await run(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
    stdin,
    env: { RAINOPS_HOME: join(cwd, '.rainops'), ...env },
    cwd,
  });
  return { code, stdout, stderr };
}
