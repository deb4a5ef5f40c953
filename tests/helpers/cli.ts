import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { tempDir } from './temp.js';

/** The data set bundled in the package (gzip); `etl --source` reads it as it is. */
export const WEATHER_CSV = resolve(__dirname, '../../data/weatherAUS.csv.gz');

let weatherText: string | undefined;
/** The bundled data set as text (145,460 rows and the header), for tests that cut or compare rows. */
export function weatherCsvText(): string {
  weatherText ??= gunzipSync(readFileSync(WEATHER_CSV)).toString('utf8');
  return weatherText;
}

export { tempDir };

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with its own RAINOPS_HOME, capturing what it prints. */
export async function cli(
  argv: string[],
  env: Record<string, string | undefined> = {},
  cwd = tempDir(),
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const stdin = new PassThrough();
  stdin.end();
  // Loaded on first use: files that only need tempDir or the data set text skip importing the whole CLI.
  const { run } = await import('../../src/cli.js');
  const code = await run(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
    stdin,
    env: { RAINOPS_HOME: join(cwd, '.rainops'), ...env },
    cwd,
  });
  return { code, stdout, stderr };
}
