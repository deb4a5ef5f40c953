import { DataError } from '../../src/core/errors.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONTINUOUS_COLUMNS } from '../../src/core/dataset/schema.js';
import type { FeatureInput } from '../../src/core/dataset/schema.js';
import {
  CLIPPED_COLUMNS,
  FEATURE_NAMES,
  fitPipeline,
  N_FEATURES,
  transformRow,
  transformRows,
} from '../../src/core/features/pipeline.js';

/*
 * Reference values below were computed independently with numpy (np.quantile default
 * method, np.nanmean, np.std ddof=0, datetime day-of-year, calendar.isleap) on the same
 * eight rows.
 */

const SPEC_FEATURES = [
  'RainToday',
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
  'DayCos',
  'DaySin',
  'Lat',
  'Lon',
  'WindGustDirCos',
  'WindGustDirSin',
  'WindDir9amCos',
  'WindDir9amSin',
  'WindDir3pmCos',
  'WindDir3pmSin',
];
const at = (name: string) => SPEC_FEATURES.indexOf(name);

const table = JSON.parse(readFileSync(new URL('../../data/locations.json', import.meta.url), 'utf8')) as Record<
  string,
  { lat: number; lon: number }
>;

const N = null;
const COLS = {
  Date: [
    '2016-01-01',
    '2016-12-31',
    '2015-12-31',
    '2016-03-01',
    '2015-03-01',
    '2017-07-01',
    '2012-02-29',
    '2010-10-10',
  ],
  Location: ['Sydney', 'Albury', 'Sydney', 'Albury', 'Perth', 'Sydney', 'Albury', 'Perth'],
  MinTemp: [13.4, 7.4, N, 12.9, 9.2, 17.5, 14.6, 14.3],
  MaxTemp: [22.9, 25.1, 25.7, 28.0, 32.3, 29.7, 29.0, 23.2],
  Rainfall: [0, 0, 0, 0.2, 0.4, 1.0, 60, N],
  Evaporation: [2, 4, 4, 4, 5, 5, 7, 9],
  Sunshine: [N, N, 9.8, 11.0, 3.5, 0, 12.3, N],
  WindGustSpeed: [30, 35, 40, 41, 39, 37, 120, 2],
  WindSpeed9am: [10, 12, 14, 9, 11, N, 13, N],
  WindSpeed3pm: [24, 22, 26, 9, 20, 24, 24, 17],
  Humidity9am: [71, 44, 38, 45, 82, 55, 49, 48],
  Humidity3pm: [22, 25, 30, 16, 33, 23, 19, 19],
  Pressure9am: [1007.7, 1010.6, 1007.6, 1017.6, 1010.8, 1009.2, 1009.6, N],
  Pressure3pm: [1007.1, 1007.8, 1008.7, 1012.8, 1006.0, 1005.4, 1008.2, 1010.1],
  Cloud9am: [8, N, N, N, 7, N, 1, N],
  Cloud3pm: [7, 7, 7, 7, 7, 7, 7, 7], // constant
  Temp9am: [16.9, 17.2, 21.0, 18.1, 17.8, 20.6, 16.3, 18.4],
  Temp3pm: [21.8, 24.3, 23.2, 26.5, 29.7, 28.9, 25.5, 21.7],
  WindGustDir: ['W', 'W', 'N', 'N', 'E', N, 'SE', 'SE'], // W, N, SE tie at 2 -> N
  WindDir9am: ['NNE', 'W', 'NNE', 'SE', 'NNE', 'ENE', N, 'S'], // NNE
  WindDir3pm: ['SSW', 'ENE', 'SSW', 'ENE', 'W', N, N, 'NW'], // SSW, ENE tie -> ENE
  RainToday: ['Yes', 'No', 'Yes', 'Yes', N, 'No', 'Yes', N], // 4 Yes, 2 No -> 1
} as const;

const ROWS: FeatureInput[] = COLS.Date.map(
  (_, i) => Object.fromEntries(Object.entries(COLS).map(([k, v]) => [k, v[i]])) as unknown as FeatureInput,
);

const NULL_ROW = (date: string, location: string): FeatureInput =>
  ({
    ...Object.fromEntries(Object.keys(COLS).map((k) => [k, null])),
    Date: date,
    Location: location,
  }) as unknown as FeatureInput;

// numpy: X.mean(0) and X.std(0) of the unscaled 8 x 27 feature matrix
const REF_MEAN = [
  0.75, 12.757142857142856, 26.987499999999997, 0.6285714285714286, 5.0, 7.319999999999999, 37.0, 11.5, 20.75, 54.0,
  23.375, 1010.4428571428572, 1008.2625, 5.333333333333333, 7.0, 18.287499999999998, 25.2, 0.46411031687388293,
  0.19462364708067514, -34.220343625, 140.761858125, 0.05177669529663685, 0.19822330470336305, 0.27021500539477417,
  0.2963868476529611, 0.15288056051605256, 0.048760180703041674,
];
const REF_STD = [
  0.4330127018922193, 2.959247008470712, 3.100982707143011, 0.8855990708473639, 2.0, 3.7527989554464547,
  11.816963442441548, 1.479019945774904, 5.165994579942956, 14.017845768876187, 5.406882188470542, 2.94187743747812,
  2.2090368376285574, 1.8929694486000912, 0.0, 1.5830646701888085, 2.8359301824974463, 0.6243708609053222,
  0.5973979225111079, 1.6203514952730125, 14.496383323532356, 0.7052086030559745, 0.6787543896524557,
  0.5425876236950347, 0.7380632479746014, 0.7921590003683705, 0.588841317444257,
];
// numpy: standardized rows 0 and 6
const REF_Z0 = [
  0.5773502691896258, 0.21723672982248332, -1.3181305366794138, -0.7097697471272133, -1.5, 0, -0.5923687615770185,
  -1.01418510567422, 0.6291140940445754, 1.2127398375109169, -0.254305522493537, -0.9323492229534913,
  -0.5262474487514606, 1.4087214501209984, 0.0, -0.876464509712364, -1.1989011651217052, 0.8582874645192288,
  -0.32578561080793905, 0.2163108597254956, 0.7206229748382846, -1.4914405336787335, -0.29203981252314215,
  0.20728159297921872, 0.8501882278792443, -0.6760814339445662, -1.6517857772546742,
];
const REF_Z6 = [
  0.5773502691896258, 0.6227452921577845, 0.648987817753474, 2.4519318537121912, 1.0, 1.3270095358485707,
  1.92519847512531, 1.01418510567422, 0.6291140940445754, -0.35668818750321085, -0.8091539352067086,
  -0.28650314663675536, -0.028292873588787647, -2.2891723564466218, 0.0, -1.2554761895879798, 0.1057853969225037,
  0.10462303485717575, 1.0942916372787912, -1.1479813981265778, 0.42454878141980174, 0.9292712582490927,
  -1.3338110216178036, 0.20728159297921872, 0.8501882278792443, 0.9732881550758162, 0.5670852940676316,
];
// numpy: an all-missing row dated 2020-06-15 at Darwin
const REF_NULL_ROW = [
  0.5773502691896258, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -2.277213670895934, 0.15583100750364712,
  13.42912552522049, -0.6843645689815121, -0.07342039656389035, 1.181247160268345, 0.20728159297921872,
  0.8501882278792443, 0.9732881550758162, 0.5670852940676316,
];

const rowOf = (m: Float64Array, i: number) => Array.from(m.subarray(i * N_FEATURES, (i + 1) * N_FEATURES));
const expectClose = (actual: number[], expected: number[], digits = 10) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, j) => {
    if (Math.abs(a - expected[j]!) > 10 ** -digits)
      expect.fail(`feature ${j} (${SPEC_FEATURES[j]}): ${a} != ${expected[j]}`);
  });
};

describe('feature names', () => {
  it('are the 27 names of SPEC section 4, in order', () => {
    expect([...FEATURE_NAMES]).toEqual(SPEC_FEATURES);
    expect(N_FEATURES).toBe(27);
    expect(fitPipeline(ROWS).features).toEqual(SPEC_FEATURES);
    expect([...CLIPPED_COLUMNS]).toEqual(['Rainfall', 'Evaporation', 'WindGustSpeed', 'WindSpeed9am']);
  });
});

describe('fitPipeline', () => {
  const p = fitPipeline(ROWS);

  it('clips the four columns at [max(Q1 - 3 IQR, min), min(Q3 + 3 IQR, max)]', () => {
    // Rainfall [0,0,0,.2,.4,1,60]: Q1 0, Q3 .7, IQR .7 -> lo max(-2.1, 0) = 0, hi min(2.8, 60) = 2.8
    expect(p.clip.Rainfall!.lo).toBe(0);
    expect(p.clip.Rainfall!.hi).toBeCloseTo(2.8, 12);
    // Evaporation [2,4,4,4,5,5,7,9]: [-0.5, 10] -> data range wins on both sides
    expect(p.clip.Evaporation).toEqual({ lo: 2, hi: 9 });
    // WindGustSpeed [2,30,35,37,39,40,41,120]: Q1 33.75, Q3 40.25, IQR 6.5 -> [14.25, 59.75]
    expect(p.clip.WindGustSpeed!.lo).toBeCloseTo(14.25, 12);
    expect(p.clip.WindGustSpeed!.hi).toBeCloseTo(59.75, 12);
    // WindSpeed9am [9..14] (nulls ignored): Q1 10.25, Q3 12.75 -> [2.75, 20.25] -> [9, 14]
    expect(p.clip.WindSpeed9am).toEqual({ lo: 9, hi: 14 });
    expect(Object.keys(p.clip).sort()).toEqual([...CLIPPED_COLUMNS].sort());
  });

  it('imputes continuous columns with the mean after clipping', () => {
    const c = p.impute.continuous;
    // clipped Rainfall [0,0,0,.2,.4,1,2.8] -> 4.4 / 7 (the unclipped mean would be 8.8)
    expect(c.Rainfall).toBeCloseTo(4.4 / 7, 12);
    // clipped WindGustSpeed [30,35,40,41,39,37,59.75,14.25] -> 37 (unclipped: 43)
    expect(c.WindGustSpeed).toBeCloseTo(37, 12);
    expect(c.Evaporation).toBe(5);
    expect(c.WindSpeed9am).toBeCloseTo(11.5, 12);
    expect(c.MinTemp).toBeCloseTo(12.757142857142856, 12);
    expect(c.Sunshine).toBeCloseTo(7.32, 12);
    expect(c.Pressure9am).toBeCloseTo(1010.4428571428572, 10);
    expect(c.Cloud9am).toBeCloseTo(16 / 3, 12);
    expect(c.Cloud3pm).toBe(7);
    expect(c.Temp3pm).toBeCloseTo(25.2, 12);
    expect(Object.keys(c)).toHaveLength(16);
  });

  it('imputes categories with the mode, ties to the smallest name', () => {
    expect(p.impute.Location).toBe('Albury'); // Sydney 3, Albury 3, Perth 2
    expect(p.impute.WindGustDir).toBe('N'); // W, N, SE 2 each
    expect(p.impute.WindDir9am).toBe('NNE');
    expect(p.impute.WindDir3pm).toBe('ENE'); // SSW, ENE 2 each
    expect(p.impute.RainToday).toBe(1); // 4 Yes, 2 No: a number in 0/1, not 'Yes'
  });

  it('breaks a RainToday tie to 0', () => {
    const q = fitPipeline([ROWS[0]!, ROWS[1]!, { ...ROWS[2]!, RainToday: null }]); // Yes, No, null
    expect(q.impute.RainToday).toBe(0);
  });

  it('records the training mean and population std of every feature', () => {
    expect(p.scale.mean).toHaveLength(27);
    expect(p.scale.std).toHaveLength(27);
    expectClose(p.scale.mean, REF_MEAN, 9);
    expectClose(p.scale.std, REF_STD, 9);
  });

  it('carries the location table', () => {
    expect(p.locations).toEqual(table);
  });

  it('refuses zero rows and a category with no values; a continuous column with no values becomes constant 0', () => {
    expect(() => fitPipeline([])).toThrow(DataError);
    expect(() => fitPipeline(ROWS.map((r) => ({ ...r, WindDir3pm: null })))).toThrow(/WindDir3pm has no values/);
    const noEvaporation = fitPipeline(ROWS.map((r) => ({ ...r, Evaporation: null })));
    expect(noEvaporation.emptyColumns).toEqual(['Evaporation']);
    expect(noEvaporation.clip.Evaporation).toBeNull();
    const z = transformRows(noEvaporation, ROWS);
    for (let i = 0; i < ROWS.length; i++) expect(z[i * 27 + at('Evaporation')]).toBe(0);
  });

  it('does not depend on row order', () => {
    const q = fitPipeline([...ROWS].reverse());
    expect(q.clip).toEqual(p.clip);
    expect({ ...q.impute, continuous: null }).toEqual({ ...p.impute, continuous: null });
    for (const col of CONTINUOUS_COLUMNS)
      expect(q.impute.continuous[col], col).toBeCloseTo(p.impute.continuous[col], 10);
    expectClose(q.scale.mean, p.scale.mean, 12);
  });
});

describe('transformRows', () => {
  const p = fitPipeline(ROWS);
  const m = transformRows(p, ROWS);

  it('returns rows x 27 values, row-major, in input order', () => {
    expect(m).toBeInstanceOf(Float64Array);
    expect(m.length).toBe(8 * 27);
    expectClose(rowOf(m, 0), REF_Z0, 9);
    expectClose(rowOf(m, 6), REF_Z6, 9);
  });

  it('gives every training column mean 0 and population std 1, a constant column 0', () => {
    for (let j = 0; j < 27; j++) {
      const col = Array.from({ length: 8 }, (_, i) => m[i * 27 + j]!);
      const mu = col.reduce((a, b) => a + b, 0) / 8;
      const sd = Math.sqrt(col.reduce((a, b) => a + (b - mu) ** 2, 0) / 8);
      expect(mu, SPEC_FEATURES[j]).toBeCloseTo(0, 10);
      if (SPEC_FEATURES[j] === 'Cloud3pm') {
        expect(p.scale.std[j]).toBe(0);
        expect(col).toEqual(Array(8).fill(0));
      } else {
        expect(sd, SPEC_FEATURES[j]).toBeCloseTo(1, 10);
      }
    }
  });

  it('puts date, location and wind features in their columns (unscaled)', () => {
    const unscale = (z: number[]) => z.map((v, j) => v * (p.scale.std[j]! || 1) + p.scale.mean[j]!);
    // row 0: 2016-01-01, Sydney, gust W, 9am NNE, 3pm SSW, RainToday Yes
    const r0 = unscale(rowOf(m, 0));
    expect(r0[at('RainToday')]).toBeCloseTo(1, 12);
    expect(r0[at('DayCos')]).toBeCloseTo(1, 12);
    expect(r0[at('DaySin')]).toBeCloseTo(0, 12);
    expect(r0[at('Lat')]).toBeCloseTo(-33.869844, 9);
    expect(r0[at('Lon')]).toBeCloseTo(151.208285, 9);
    expect(r0[at('WindGustDirCos')]).toBeCloseTo(-1, 12); // W = 180
    expect(r0[at('WindGustDirSin')]).toBeCloseTo(0, 12);
    expect(r0[at('WindDir9amCos')]).toBeCloseTo(Math.cos((67.5 * Math.PI) / 180), 12); // NNE
    expect(r0[at('WindDir9amSin')]).toBeCloseTo(Math.sin((67.5 * Math.PI) / 180), 12);
    expect(r0[at('WindDir3pmCos')]).toBeCloseTo(Math.cos((247.5 * Math.PI) / 180), 12); // SSW
    expect(r0[at('WindDir3pmSin')]).toBeCloseTo(Math.sin((247.5 * Math.PI) / 180), 12);
    // row 1: 2016-12-31 (leap: 2 pi 365/366), Albury, RainToday No
    const r1 = unscale(rowOf(m, 1));
    expect(r1[at('RainToday')]).toBeCloseTo(0, 12);
    expect(r1[at('DayCos')]).toBeCloseTo(Math.cos((2 * Math.PI * 365) / 366), 12);
    expect(r1[at('DaySin')]).toBeCloseTo(Math.sin((2 * Math.PI * 365) / 366), 12);
    expect(r1[at('Lat')]).toBeCloseTo(table['Albury']!.lat, 9);
    expect(r1[at('Lon')]).toBeCloseTo(table['Albury']!.lon, 9);
    // row 6: outliers clipped (Rainfall 60 -> 2.8, WindGustSpeed 120 -> 59.75)
    const r6 = unscale(rowOf(m, 6));
    expect(r6[at('Rainfall')]).toBeCloseTo(2.8, 9);
    expect(r6[at('WindGustSpeed')]).toBeCloseTo(59.75, 9);
    expect(r6[at('WindDir9amCos')]).toBeCloseTo(Math.cos((67.5 * Math.PI) / 180), 12); // null -> NNE
    // row 7: WindGustSpeed 2 -> 14.25, Rainfall null -> mean after clipping
    const r7 = unscale(rowOf(m, 7));
    expect(r7[at('WindGustSpeed')]).toBeCloseTo(14.25, 9);
    expect(r7[at('Rainfall')]).toBeCloseTo(4.4 / 7, 9);
  });

  it('imputes every missing value of a new row', () => {
    const z = Array.from(transformRow(p, NULL_ROW('2020-06-15', 'Darwin')));
    expectClose(z, REF_NULL_ROW, 9);
    // continuous columns land exactly on the training mean: 0 after scaling
    for (let j = 1; j <= 16; j++) expect(Math.abs(z[j]!)).toBeLessThan(1e-12);
  });

  it('clips new values with the training bounds', () => {
    const row = { ...ROWS[0]!, Rainfall: 500, WindGustSpeed: 0, Evaporation: 100, WindSpeed9am: 0, Humidity9am: 500 };
    const z = transformRow(p, row);
    const unscaled = (name: string) => z[at(name)]! * p.scale.std[at(name)]! + p.scale.mean[at(name)]!;
    expect(unscaled('Rainfall')).toBeCloseTo(2.8, 9);
    expect(unscaled('Evaporation')).toBeCloseTo(9, 9);
    expect(unscaled('WindGustSpeed')).toBeCloseTo(14.25, 9);
    expect(unscaled('WindSpeed9am')).toBeCloseTo(9, 9);
    expect(unscaled('Humidity9am')).toBeCloseTo(500, 9); // not a clipped column
  });

  it('transformRow equals the matching row of transformRows', () => {
    for (let i = 0; i < ROWS.length; i++) expect(Array.from(transformRow(p, ROWS[i]!))).toEqual(rowOf(m, i));
  });

  it('survives JSON and transforms identically', () => {
    const back = JSON.parse(JSON.stringify(p)) as typeof p;
    expect(back).toEqual(p);
    const extra = [NULL_ROW('2019-02-03', 'Cairns'), { ...ROWS[3]!, Rainfall: 99 }];
    expect(transformRows(back, [...ROWS, ...extra])).toEqual(transformRows(p, [...ROWS, ...extra]));
  });

  it('centres a constant column to 0 even when its float mean is inexact', () => {
    // Six Sydney rows: Lon is constant 151.208285, but the float mean differs from it by
    // one ulp and populationStd comes out ~2.8e-14 instead of 0. scikit-learn's
    // StandardScaler treats such a column as constant (scale 1) and gives ~0; dividing by
    // the round-off std turns the column into +-1 here and a far station into ~1e15.
    const sydney = ROWS.slice(0, 6).map((r) => ({ ...r, Location: 'Sydney', MinTemp: 0.1 }));
    const q = fitPipeline(sydney);
    const z = transformRows(q, sydney);
    for (let i = 0; i < 6; i++) {
      expect(Math.abs(z[i * 27 + at('Lon')]!), 'Lon').toBeLessThan(1e-6);
      expect(Math.abs(z[i * 27 + at('MinTemp')]!), 'MinTemp').toBeLessThan(1e-6);
    }
    const perth = transformRow(q, { ...sydney[0]!, Location: 'Perth' });
    expect(Math.abs(perth[at('Lon')]!)).toBeLessThan(1e3);
  });
});
