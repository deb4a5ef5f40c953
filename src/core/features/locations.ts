import { readFileSync } from 'node:fs';

export interface Coordinates {
  lat: number;
  lon: number;
}

// Resolved from this file so it works from src/ under tests and from dist/ when installed.
const table = JSON.parse(readFileSync(new URL('../../../data/locations.json', import.meta.url), 'utf8')) as Record<
  string,
  Coordinates
>;

/** The 49 weather stations and their coordinates. */
export const LOCATIONS: Readonly<Record<string, Coordinates>> = table;

export const LOCATION_NAMES: readonly string[] = Object.keys(table).sort();

/** Names closest to a misspelt one, for error messages (edit distance, case-insensitive). */
export function closestLocations(name: string, count = 3): string[] {
  // Station names are short: comparing a whole megabyte of input would take seconds (a server takes such input).
  const target = name.slice(0, 64).toLowerCase();
  return LOCATION_NAMES.map((n) => ({ n, d: editDistance(target, n.toLowerCase()) }))
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
    .slice(0, count)
    .map((x) => x.n);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
