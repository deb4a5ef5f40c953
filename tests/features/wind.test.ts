import { describe, expect, it } from 'vitest';
import { WIND_DIRECTIONS, windDegrees, windVector } from '../../src/core/features/wind.js';

describe('wind directions', () => {
  it('has the 16 compass points', () => {
    expect(WIND_DIRECTIONS).toHaveLength(16);
    expect(new Set(WIND_DIRECTIONS).size).toBe(16);
  });

  it('measures degrees counter-clockwise from east in 22.5 degree steps', () => {
    const table: Record<string, number> = {
      E: 0,
      ENE: 22.5,
      NE: 45,
      NNE: 67.5,
      N: 90,
      NNW: 112.5,
      NW: 135,
      WNW: 157.5,
      W: 180,
      WSW: 202.5,
      SW: 225,
      SSW: 247.5,
      S: 270,
      SSE: 292.5,
      SE: 315,
      ESE: 337.5,
    };
    for (const d of WIND_DIRECTIONS) expect(windDegrees(d)).toBe(table[d]);
  });

  it('gives the unit vector of each direction', () => {
    const close = (d: (typeof WIND_DIRECTIONS)[number], c: number, s: number) => {
      expect(windVector(d).cos).toBeCloseTo(c, 14);
      expect(windVector(d).sin).toBeCloseTo(s, 14);
    };
    close('E', 1, 0);
    close('N', 0, 1);
    close('W', -1, 0);
    close('S', 0, -1);
    close('NE', Math.SQRT1_2, Math.SQRT1_2);
    close('SW', -Math.SQRT1_2, -Math.SQRT1_2);
    // ESE = 337.5 degrees: (cos 22.5, -sin 22.5) = (0.9238795, -0.3826834)
    close('ESE', 0.9238795325112867, -0.3826834323650898);
    close('NNW', -0.3826834323650898, 0.9238795325112867);
    for (const d of WIND_DIRECTIONS) expect(Math.hypot(windVector(d).cos, windVector(d).sin)).toBeCloseTo(1, 14);
  });
});
