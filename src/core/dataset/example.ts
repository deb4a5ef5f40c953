import type { PredictFeatures } from './schema.js';

/** The Python original's example day (its README's curl request and its form's defaults). */
export const EXAMPLE_FEATURES = {
  Date: '2024-08-26',
  Location: 'Adelaide',
  MinTemp: 9.8,
  MaxTemp: 18.2,
  Rainfall: 0.2,
  Evaporation: 1.4,
  Sunshine: 0,
  WindGustDir: 'ESE',
  WindGustSpeed: 39,
  WindDir9am: 'NW',
  WindDir3pm: 'W',
  WindSpeed9am: 17,
  WindSpeed3pm: 11,
  Humidity9am: 91,
  Humidity3pm: 95,
  Pressure9am: 1020.3,
  Pressure3pm: 1016.4,
  Cloud9am: 7,
  Cloud3pm: 8,
  Temp9am: 12.7,
  Temp3pm: 14.6,
  RainToday: 0,
} as const satisfies PredictFeatures;
