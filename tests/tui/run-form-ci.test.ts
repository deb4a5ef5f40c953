import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./fixtures/form-on-terminal.tsx', import.meta.url));

/** Runs the form on a fake terminal in a child with CI and CONTINUOUS_INTEGRATION set to `ci`; Ink reads them as it loads. */
function formUnder(ci: string | undefined): Promise<{ code: number | null; stdout: string }> {
  const { CI: _ci, CONTINUOUS_INTEGRATION: _ci2, ...env } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: ci === undefined ? env : { ...env, CI: ci, CONTINUOUS_INTEGRATION: ci },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((res) => child.on('close', (code) => res({ code, stdout })));
}

describe('the predict form on a terminal', () => {
  for (const ci of ['true', undefined]) {
    it(`draws while it is open, and shows the cursor again when it ends (CI=${String(ci)})`, async () => {
      const r = await formUnder(ci);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ drawnWhileOpen: true, cursorShown: true });
    }, 60_000);
  }
});
