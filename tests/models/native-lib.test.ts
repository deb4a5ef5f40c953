import { describe, expect, it, vi } from 'vitest';
import { nativeEngineEnv } from '../../src/core/models/native-lib.js';

describe('nativeEngineEnv', () => {
  it('asks for passive OpenMP waits unless the user chose how OpenMP waits', () => {
    expect(nativeEngineEnv({})).toEqual({ OMP_WAIT_POLICY: 'passive' });
    expect(nativeEngineEnv({ OMP_WAIT_POLICY: 'active' })).toEqual({});
    expect(nativeEngineEnv({ GOMP_SPINCOUNT: '1000' })).toEqual({});
  });
});

describe('loadXgbLib', () => {
  it('leaves the process environment as it found it', async () => {
    vi.resetModules();
    vi.stubEnv('OMP_WAIT_POLICY', undefined);
    try {
      const before = { ...process.env };
      const { loadXgbLib } = await import('../../src/core/models/native-lib.js');
      // Whether or not libxgboost is installed here, loading it (or failing to) writes nothing to the environment.
      await loadXgbLib().catch(() => null);
      expect({ ...process.env }).toEqual(before);
      expect(process.env['OMP_WAIT_POLICY']).toBeUndefined();
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
