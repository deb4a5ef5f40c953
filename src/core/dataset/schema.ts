import { z } from 'zod';
import { parseIsoDay } from '../features/dates.js';
import { closestLocations, LOCATIONS } from '../features/locations.js';
import { WIND_DIRECTIONS } from '../features/wind.js';

/** The weatherAUS header, in file order. */
export const RAW_COLUMNS = [
  'Date',
  'Location',
  'MinTemp',
  'MaxTemp',
  'Rainfall',
  'Evaporation',
  'Sunshine',
  'WindGustDir',
  'WindGustSpeed',
  'WindDir9am',
  'WindDir3pm',
  'WindSpeed9am',
  'WindSpeed3pm',
  'Humidity9am',
  'Humidity3pm',
  'Pressure9am',
  'Pressure3pm',
  'Cloud9am',
  'Cloud3pm',
  'Temp9am',
  'Temp3pm',
  'RainToday',
  'RainTomorrow',
] as const;

/** The input columns a prediction takes: every raw column but the label. */
export const FEATURE_INPUT_COLUMNS = RAW_COLUMNS.filter((c) => c !== 'RainTomorrow');

export const CONTINUOUS_COLUMNS = [
  'MinTemp',
  'MaxTemp',
  'Rainfall',
  'Evaporation',
  'Sunshine',
  'WindGustSpeed',
  'WindSpeed9am',
  'WindSpeed3pm',
  'Humidity9am',
  'Humidity3pm',
  'Pressure9am',
  'Pressure3pm',
  'Cloud9am',
  'Cloud3pm',
  'Temp9am',
  'Temp3pm',
] as const;
export type ContinuousColumn = (typeof CONTINUOUS_COLUMNS)[number];

export const WIND_COLUMNS = ['WindGustDir', 'WindDir9am', 'WindDir3pm'] as const;
export type WindColumn = (typeof WIND_COLUMNS)[number];

// The message is for a wrong type only: a value out of bounds keeps zod's own message, which names the bound.
const number = () => z.number({ error: (issue) => (issue.code === 'invalid_type' ? 'expected a number' : undefined) });

/** Bounds per continuous column: the Python original's API bounds, plus physical limits. */
export const CONTINUOUS_BOUNDS: Record<ContinuousColumn, z.ZodNumber> = {
  MinTemp: number().min(-10).max(50),
  MaxTemp: number().min(-20).max(70),
  Rainfall: number().min(0),
  Evaporation: number().min(0),
  Sunshine: number().min(0).max(24),
  WindGustSpeed: number().min(0),
  WindSpeed9am: number().min(0),
  WindSpeed3pm: number().min(0),
  Humidity9am: number().min(0).max(100),
  Humidity3pm: number().min(0).max(100),
  Pressure9am: number(),
  Pressure3pm: number(),
  Cloud9am: number().min(0).max(9),
  Cloud3pm: number().min(0).max(9),
  Temp9am: number(),
  Temp3pm: number(),
};

export const DateSchema = z.string({ error: 'expected a date as YYYY-MM-DD' }).refine((s) => parseIsoDay(s) !== null, {
  error: 'expected a real calendar day as YYYY-MM-DD',
});

export const LocationSchema = z
  .string({ error: 'expected a station name' })
  .refine((s) => Object.hasOwn(LOCATIONS, s), {
    error: (issue) =>
      `unknown location "${String(issue.input)}"; closest: ${closestLocations(String(issue.input)).join(', ')}`,
  });

export const WindDirectionSchema = z.enum(WIND_DIRECTIONS, { error: `expected one of ${WIND_DIRECTIONS.join(', ')}` });
export const YesNoSchema = z.enum(['Yes', 'No'], { error: 'expected Yes or No' });

function continuousShape<T extends z.ZodType>(wrap: (s: z.ZodNumber) => T) {
  return Object.fromEntries(CONTINUOUS_COLUMNS.map((c) => [c, wrap(CONTINUOUS_BOUNDS[c])])) as Record<
    ContinuousColumn,
    T
  >;
}

/** One row of weatherAUS.csv once `NA`/empty cells are null and numbers are numbers. */
export const WeatherRowSchema = z.object({
  Date: DateSchema,
  Location: LocationSchema,
  ...continuousShape((s) => s.nullable()),
  WindGustDir: WindDirectionSchema.nullable(),
  WindDir9am: WindDirectionSchema.nullable(),
  WindDir3pm: WindDirectionSchema.nullable(),
  RainToday: YesNoSchema.nullable(),
  RainTomorrow: YesNoSchema.nullable(),
});
export type WeatherRow = z.infer<typeof WeatherRowSchema>;

/** The features of one day as a prediction takes them: every field present (RainToday as 0/1 or Yes/No). */
export const PredictFeaturesSchema = z.object({
  Date: DateSchema,
  Location: LocationSchema,
  ...continuousShape((s) => s),
  WindGustDir: WindDirectionSchema,
  WindDir9am: WindDirectionSchema,
  WindDir3pm: WindDirectionSchema,
  RainToday: z.union([number().min(0), YesNoSchema], { error: 'expected 0, 1, Yes or No' }),
});
export type PredictFeatures = z.infer<typeof PredictFeaturesSchema>;

/** The row the feature pipeline takes: a validated weather row without its label. */
export type FeatureInput = Omit<WeatherRow, 'RainTomorrow'>;

/** A prediction request's features as a pipeline input (RainToday > 0 means it rained). */
export function featuresToInput(f: PredictFeatures): FeatureInput {
  const rainToday = typeof f.RainToday === 'number' ? (f.RainToday > 0 ? 'Yes' : 'No') : f.RainToday;
  return { ...f, RainToday: rainToday };
}
