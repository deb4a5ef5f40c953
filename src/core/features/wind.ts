/** The 16 compass points, counter-clockwise from east: each step adds 22.5 degrees. */
export const WIND_DIRECTIONS = [
  'E',
  'ENE',
  'NE',
  'NNE',
  'N',
  'NNW',
  'NW',
  'WNW',
  'W',
  'WSW',
  'SW',
  'SSW',
  'S',
  'SSE',
  'SE',
  'ESE',
] as const;

export type WindDirection = (typeof WIND_DIRECTIONS)[number];

export function windDegrees(dir: WindDirection): number {
  return WIND_DIRECTIONS.indexOf(dir) * 22.5;
}

const VECTORS = new Map(
  WIND_DIRECTIONS.map((d) => {
    const rad = (windDegrees(d) * Math.PI) / 180;
    return [d, { cos: Math.cos(rad), sin: Math.sin(rad) }] as const;
  }),
);

export function windVector(dir: WindDirection): { cos: number; sin: number } {
  return VECTORS.get(dir)!;
}
