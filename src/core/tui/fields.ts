import { EXAMPLE_FEATURES } from '../dataset/example.js';
import type { z } from 'zod';
import { CONTINUOUS_BOUNDS, FEATURE_INPUT_COLUMNS, PredictFeaturesSchema } from '../dataset/schema.js';
import type { ContinuousColumn } from '../dataset/schema.js';
import { LOCATION_NAMES } from '../features/locations.js';
import { WIND_DIRECTIONS } from '../features/wind.js';

export type FieldName = (typeof FEATURE_INPUT_COLUMNS)[number];

export type FieldSpec =
  | { name: FieldName; label: string; kind: 'text'; schema: z.ZodType }
  | { name: FieldName; label: string; kind: 'number'; schema: z.ZodType }
  | { name: FieldName; label: string; kind: 'select'; options: readonly string[] }
  | { name: FieldName; label: string; kind: 'yesno' };

const UNITS: Record<ContinuousColumn, string> = {
  MinTemp: '°C',
  MaxTemp: '°C',
  Temp9am: '°C',
  Temp3pm: '°C',
  Rainfall: 'mm',
  Evaporation: 'mm',
  Sunshine: 'h',
  WindGustSpeed: 'km/h',
  WindSpeed9am: 'km/h',
  WindSpeed3pm: 'km/h',
  Humidity9am: '%',
  Humidity3pm: '%',
  Pressure9am: 'hPa',
  Pressure3pm: 'hPa',
  Cloud9am: 'oktas',
  Cloud3pm: 'oktas',
};

/** "MinTemp (°C, -10 to 50)": the unit and the bounds the shared schema enforces. */
function numberLabel(c: ContinuousColumn): string {
  const { minValue: lo, maxValue: hi } = CONTINUOUS_BOUNDS[c];
  const finite = (x: number | null): x is number => x !== null && Number.isFinite(x);
  const range =
    finite(lo) && finite(hi) ? `, ${lo} to ${hi}` : finite(lo) ? `, ≥ ${lo}` : finite(hi) ? `, ≤ ${hi}` : '';
  return `${c} (${UNITS[c]}${range})`;
}

/** The original web form's 22 inputs, in the API's column order. */
export const FIELDS: readonly FieldSpec[] = FEATURE_INPUT_COLUMNS.map((name): FieldSpec => {
  if (name === 'Date')
    return { name, label: 'Date (YYYY-MM-DD)', kind: 'text', schema: PredictFeaturesSchema.shape.Date };
  if (name === 'Location') return { name, label: 'Location', kind: 'select', options: LOCATION_NAMES };
  if (name === 'WindGustDir' || name === 'WindDir9am' || name === 'WindDir3pm')
    return { name, label: `${name} (compass)`, kind: 'select', options: WIND_DIRECTIONS };
  if (name === 'RainToday') return { name, label: 'RainToday (yes/no)', kind: 'yesno' };
  return { name, label: numberLabel(name), kind: 'number', schema: CONTINUOUS_BOUNDS[name] };
});

/** The original's example day, which the form opens with. */
export const EXAMPLE_DAY: Readonly<Record<FieldName, string>> = Object.fromEntries(
  Object.entries(EXAMPLE_FEATURES).map(([k, v]) => [k, k === 'RainToday' ? (v ? 'Yes' : 'No') : String(v)]),
) as Record<FieldName, string>;
