import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { closestLocations, LOCATION_NAMES, LOCATIONS } from '../../src/core/features/locations.js';

describe('locations', () => {
  it('has the 49 stations of data/locations.json, names sorted', () => {
    const shared = JSON.parse(readFileSync(new URL('../../data/locations.json', import.meta.url), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(LOCATION_NAMES).toHaveLength(49);
    expect(LOCATION_NAMES).toEqual(Object.keys(shared).sort());
    expect(LOCATIONS).toEqual(shared);
    expect([...LOCATION_NAMES]).toEqual([...LOCATION_NAMES].sort());
  });

  it('holds coordinates in and around Australia', () => {
    expect(LOCATIONS['Sydney']).toEqual({ lat: -33.869844, lon: 151.208285 });
    for (const n of LOCATION_NAMES) {
      const c = LOCATIONS[n]!;
      expect(c.lat).toBeGreaterThan(-44);
      expect(c.lat).toBeLessThan(-10);
      expect(c.lon).toBeGreaterThan(112);
      expect(c.lon).toBeLessThan(169); // NorfolkIsland is at 167.9
    }
  });

  it('suggests the closest names for a misspelt one', () => {
    expect(closestLocations('Sydnee')[0]).toBe('Sydney');
    expect(closestLocations('Sydnee')).toHaveLength(3);
    expect(closestLocations('albury', 1)).toEqual(['Albury']);
    expect(closestLocations('MELBOURNEAIRPORT', 2)[0]).toBe('MelbourneAirport');
    expect(closestLocations('PerthAirprt')[0]).toBe('PerthAirport');
  });
});
