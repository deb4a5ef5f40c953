import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadOutsideCi } from '../../src/commands/predict.js';

afterEach(() => vi.unstubAllEnvs());

describe('loadOutsideCi', () => {
  it('lets Ink load as outside CI, then puts CI back as it was', async () => {
    vi.stubEnv('CI', 'true');
    vi.stubEnv('CONTINUOUS_INTEGRATION', '1');
    const seen = await loadOutsideCi(async () => ({ ci: process.env['CI'], inCi: (await import('is-in-ci')).default }));
    expect(seen).toEqual({ ci: 'false', inCi: false });
    expect(process.env['CI']).toBe('true');
    expect(process.env['CONTINUOUS_INTEGRATION']).toBe('1');
  });

  it('touches nothing when no CI variable is set, even when loading fails', async () => {
    vi.stubEnv('CI', undefined);
    vi.stubEnv('CONTINUOUS_INTEGRATION', undefined);
    await expect(loadOutsideCi(() => Promise.reject(new Error('no ink')))).rejects.toThrow('no ink');
    expect('CI' in process.env).toBe(false);
    expect('CONTINUOUS_INTEGRATION' in process.env).toBe(false);
  });
});
