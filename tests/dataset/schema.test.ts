import { describe, expect, it } from 'vitest';
import {
  FEATURE_INPUT_COLUMNS,
  featuresToInput,
  PredictFeaturesSchema,
  RAW_COLUMNS,
  WeatherRowSchema,
} from '../../src/core/dataset/schema.js';

const features = {
  Date: '2017-06-25',
  Location: 'Sydney',
  MinTemp: 8.1,
  MaxTemp: 17.4,
  Rainfall: 0,
  Evaporation: 2.4,
  Sunshine: 7.8,
  WindGustDir: 'W',
  WindGustSpeed: 41,
  WindDir9am: 'W',
  WindDir3pm: 'WNW',
  WindSpeed9am: 17,
  WindSpeed3pm: 24,
  Humidity9am: 63,
  Humidity3pm: 41,
  Pressure9am: 1021.4,
  Pressure3pm: 1019.2,
  Cloud9am: 1,
  Cloud3pm: 2,
  Temp9am: 11.2,
  Temp3pm: 16.9,
  RainToday: 'No',
};
const row = { ...features, RainTomorrow: 'Yes' };

const messages = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

describe('columns', () => {
  it('lists the weatherAUS header and the 22 feature inputs', () => {
    expect(RAW_COLUMNS).toHaveLength(23);
    expect(RAW_COLUMNS[0]).toBe('Date');
    expect(RAW_COLUMNS[22]).toBe('RainTomorrow');
    expect(FEATURE_INPUT_COLUMNS).toEqual(RAW_COLUMNS.slice(0, 22));
  });
});

describe('WeatherRowSchema', () => {
  it('accepts a full row and one with every nullable field null', () => {
    expect(WeatherRowSchema.parse(row)).toEqual(row);
    const nulls = Object.fromEntries(RAW_COLUMNS.map((c) => [c, null]));
    const sparse = { ...nulls, Date: '2017-06-25', Location: 'Sydney' };
    expect(WeatherRowSchema.safeParse(sparse).success).toBe(true);
  });

  it('requires Date and Location', () => {
    expect(WeatherRowSchema.safeParse({ ...row, Location: null }).success).toBe(false);
    expect(WeatherRowSchema.safeParse({ ...row, Date: null }).success).toBe(false);
  });

  it.each([
    ['MinTemp', -10, true],
    ['MinTemp', -10.1, false],
    ['MinTemp', 50, true],
    ['MinTemp', 50.1, false],
    ['MaxTemp', -20, true],
    ['MaxTemp', -20.1, false],
    ['MaxTemp', 70, true],
    ['MaxTemp', 70.1, false],
    ['Sunshine', 0, true],
    ['Sunshine', -0.1, false],
    ['Sunshine', 24, true],
    ['Sunshine', 24.1, false],
    ['Rainfall', -0.1, false],
    ['Humidity3pm', 100, true],
    ['Humidity3pm', 101, false],
    ['Cloud9am', 9, true],
    ['Cloud9am', 10, false],
    ['MinTemp', Number.NaN, false],
    ['MinTemp', Infinity, false],
    ['MinTemp', '12', false],
  ])('%s = %s -> valid %s', (col, value, ok) => {
    expect(WeatherRowSchema.safeParse({ ...row, [col]: value }).success).toBe(ok);
    expect(PredictFeaturesSchema.safeParse({ ...features, [col]: value }).success).toBe(ok);
  });

  it('says a garbage number is not a number, naming the column', () => {
    expect(messages(WeatherRowSchema.safeParse({ ...row, Humidity9am: Number.NaN }))).toEqual([
      'Humidity9am: expected a number',
    ]);
  });

  it('takes Yes/No for RainToday and RainTomorrow only', () => {
    expect(WeatherRowSchema.safeParse({ ...row, RainToday: 'Yes' }).success).toBe(true);
    expect(WeatherRowSchema.safeParse({ ...row, RainToday: 1 }).success).toBe(false);
    expect(WeatherRowSchema.safeParse({ ...row, RainTomorrow: 'yes' }).success).toBe(false);
    expect(WeatherRowSchema.safeParse({ ...row, RainTomorrow: null }).success).toBe(true);
  });

  it('takes the 16 compass points for wind directions', () => {
    expect(WeatherRowSchema.safeParse({ ...row, WindGustDir: 'NNW' }).success).toBe(true);
    expect(WeatherRowSchema.safeParse({ ...row, WindGustDir: 'NORTH' }).success).toBe(false);
    expect(WeatherRowSchema.safeParse({ ...row, WindDir9am: 'n' }).success).toBe(false);
  });

  it('rejects impossible dates', () => {
    for (const d of ['2015-02-29', '2015-13-01', '2015-04-31', '2015-4-1']) {
      expect(messages(WeatherRowSchema.safeParse({ ...row, Date: d }))).toEqual([
        'Date: expected a real calendar day as YYYY-MM-DD',
      ]);
    }
    expect(WeatherRowSchema.safeParse({ ...row, Date: '2016-02-29' }).success).toBe(true);
  });

  it('names the closest stations for an unknown location', () => {
    const msg = messages(WeatherRowSchema.safeParse({ ...row, Location: 'Sydnee' }));
    expect(msg).toHaveLength(1);
    expect(msg[0]).toMatch(/^Location: unknown location "Sydnee"; closest: Sydney, /);
    // inherited object keys are not stations
    expect(WeatherRowSchema.safeParse({ ...row, Location: 'toString' }).success).toBe(false);
    expect(WeatherRowSchema.safeParse({ ...row, Location: 'sydney' }).success).toBe(false);
  });
});

describe('PredictFeaturesSchema', () => {
  it('accepts a full request, without RainTomorrow', () => {
    expect(PredictFeaturesSchema.parse(features)).toEqual(features);
  });

  it('requires every field (not nullable, not optional)', () => {
    for (const col of FEATURE_INPUT_COLUMNS) {
      expect(PredictFeaturesSchema.safeParse({ ...features, [col]: null }).success, `${col} null`).toBe(false);
      const { [col]: _gone, ...rest } = features;
      expect(PredictFeaturesSchema.safeParse(rest).success, `${col} absent`).toBe(false);
    }
  });

  it('takes RainToday as 0, 1, Yes or No, not negative or other words', () => {
    for (const v of [0, 1, 'Yes', 'No'])
      expect(PredictFeaturesSchema.safeParse({ ...features, RainToday: v }).success, String(v)).toBe(true);
    for (const v of [-1, 'Maybe', 'yes', null, true])
      expect(PredictFeaturesSchema.safeParse({ ...features, RainToday: v }).success, String(v)).toBe(false);
    expect(messages(PredictFeaturesSchema.safeParse({ ...features, RainToday: 'Maybe' }))).toEqual([
      'RainToday: expected 0, 1, Yes or No',
    ]);
  });
});

describe('featuresToInput', () => {
  it('maps numeric RainToday to Yes/No and keeps the rest', () => {
    const one = featuresToInput(PredictFeaturesSchema.parse({ ...features, RainToday: 1 }));
    expect(one.RainToday).toBe('Yes');
    expect(featuresToInput(PredictFeaturesSchema.parse({ ...features, RainToday: 0 })).RainToday).toBe('No');
    expect(featuresToInput(PredictFeaturesSchema.parse({ ...features, RainToday: 'Yes' })).RainToday).toBe('Yes');
    expect(featuresToInput(PredictFeaturesSchema.parse({ ...features, RainToday: 'No' })).RainToday).toBe('No');
    expect(one).toEqual({ ...features, RainToday: 'Yes' });
  });
});
