import { describe, expect, it } from 'vitest';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rowsToColumns } from '../../src/core/dataset/columns.js';
import {
  FileSink,
  fixed7,
  labelCsv,
  matrixCsv,
  rawFeaturesCsv,
  rawLabelCsv,
  TextSink,
  writeFeatureMatrix,
  writeLabels,
  writeRawFeatures,
  writeRawLabels,
} from '../../src/core/dataset/csv-out.js';
import { seededRandom } from '../../src/core/dataset/random.js';
import {
  FEATURE_NAMES,
  featureWriter,
  fitPipeline,
  N_FEATURES,
  transformRows,
} from '../../src/core/features/pipeline.js';
import { tempDir } from '../helpers/temp.js';
import { RAW_COLUMNS } from '../../src/core/dataset/schema.js';
import type { WeatherRow } from '../../src/core/dataset/schema.js';

describe('fixed7', () => {
  it.each([
    // reference: ('%.7f' % x).rstrip('0').rstrip('.') in Python
    [0, '0'],
    [1, '1'],
    [-3, '-3'],
    [100, '100'],
    [0.5, '0.5'],
    [-0.5, '-0.5'],
    [2.1, '2.1'],
    [-1.5, '-1.5'],
    [0.12345678, '0.1234568'],
    [-0.12345678, '-0.1234568'],
    [3.14159265358979, '3.1415927'],
    [123.4567891, '123.4567891'],
    [1.99999999, '2'],
    [-1.99999999, '-2'],
    [1.000000049, '1'],
    [1234567.25, '1234567.25'],
    [0.30000000000000004, '0.3'],
    [1 / 3, '0.3333333'],
    [-2 / 3, '-0.6666667'],
    [1e-7, '0.0000001'],
    [-1e-7, '-0.0000001'],
    [0.0000012, '0.0000012'],
    [1e-8, '0'],
    [-1e-8, '0'],
    [4e-8, '0'],
    [-4e-8, '0'],
    [-0, '0'],
  ])('fixed7(%s) = %s', (x, s) => {
    expect(fixed7(x)).toBe(s);
  });

  it('round-trips to within 5e-8', () => {
    for (let i = 0; i < 2000; i++) {
      const x = Math.sin(i) * 10 ** ((i % 9) - 4);
      expect(Math.abs(Number(fixed7(x)) - x)).toBeLessThanOrEqual(5e-8 + 1e-15);
      expect(fixed7(x)).not.toMatch(/e|\.$|\.\d*0$/);
    }
  });
});

const row = (over: Partial<WeatherRow>): WeatherRow =>
  ({
    ...Object.fromEntries(RAW_COLUMNS.map((c) => [c, null])),
    Date: '2017-06-25',
    Location: 'Sydney',
    ...over,
  }) as WeatherRow;

describe('csv writers', () => {
  it('matrixCsv writes a header and one line per row', () => {
    const buf = matrixCsv(['a', 'b', 'c'], Float64Array.from([1, -0.5, 1 / 3, 0, 2e-9, 10]), 3);
    expect(buf.toString('utf8')).toBe('a,b,c\n1,-0.5,0.3333333\n0,0,10\n');
  });

  it('labelCsv writes a header and one label per line', () => {
    expect(labelCsv('RainTomorrow', Uint8Array.from([1, 0, 0])).toString('utf8')).toBe('RainTomorrow\n1\n0\n0\n');
    expect(labelCsv('y', []).toString('utf8')).toBe('y\n');
  });

  it('rawFeaturesCsv writes the 22 feature columns of the chosen rows, NA for null', () => {
    const rows = [
      row({ MinTemp: 8.1, RainToday: 'No', RainTomorrow: 'Yes' }),
      row({ Date: '2008-12-01', Location: 'Albury', WindGustDir: 'W', Rainfall: 0, RainToday: 'Yes' }),
      row({ Location: 'Perth' }),
    ];
    const text = rawFeaturesCsv(rows, Uint32Array.from([1, 0])).toString('utf8');
    const lines = text.split('\n');
    expect(lines).toHaveLength(4); // header, two rows, trailing ''
    expect(lines[3]).toBe('');
    expect(lines[0]).toBe(RAW_COLUMNS.slice(0, 22).join(','));
    const cells1 = lines[1]!.split(',');
    expect(cells1).toHaveLength(22);
    expect(cells1[0]).toBe('2008-12-01');
    expect(cells1[1]).toBe('Albury');
    expect(cells1[RAW_COLUMNS.indexOf('Rainfall')]).toBe('0');
    expect(cells1[RAW_COLUMNS.indexOf('WindGustDir')]).toBe('W');
    expect(cells1[RAW_COLUMNS.indexOf('MinTemp')]).toBe('NA');
    expect(cells1[21]).toBe('Yes');
    const cells2 = lines[2]!.split(',');
    expect(cells2[RAW_COLUMNS.indexOf('MinTemp')]).toBe('8.1');
    expect(cells2.filter((c) => c === 'NA')).toHaveLength(22 - 4); // Date, Location, MinTemp, RainToday set
  });

  it('rawLabelCsv writes RainTomorrow of the chosen rows', () => {
    const rows = [row({ RainTomorrow: 'Yes' }), row({ RainTomorrow: 'No' }), row({})];
    expect(rawLabelCsv(rows, Uint32Array.from([2, 0, 1])).toString('utf8')).toBe('RainTomorrow\nNA\nYes\nNo\n');
  });

  it('TextSink spans buffers without losing text', () => {
    const sink = new TextSink();
    const line = 'é'.repeat(300_000); // 600 kB of UTF-8 per line: forces new chunks
    for (let i = 0; i < 5; i++) sink.line(line + i);
    const out = sink.toBuffer().toString('utf8').split('\n');
    expect(out).toHaveLength(6);
    expect(out.slice(0, 5)).toEqual([0, 1, 2, 3, 4].map((i) => line + i));
  });
});

describe('column writers', () => {
  const out = tempDir('rainops-csvout-');
  let k = 0;
  const written = (write: (sink: FileSink) => void) => {
    const path = join(out, `f${k++}.csv`);
    const fd = openSync(path, 'w');
    const sink = new FileSink(fd);
    write(sink);
    sink.flush();
    closeSync(fd);
    return readFileSync(path);
  };

  it('FileSink.fixed7 writes what fixed7 returns, across a buffer flush', () => {
    const random = seededRandom(3);
    const xs = [0, -0, 1e-8, -4e-8, 5e-8, 0.5, -0.5, 1 / 3, 1234567.25, 1e9, -1e9, 1e12, NaN, Infinity, -Infinity];
    for (let i = 0; i < 200_000; i++) xs.push((random() - 0.5) * 10 ** Math.floor(random() * 12 - 6));
    const bytes = written((sink) => {
      for (const x of xs) {
        sink.room(64);
        sink.fixed7(x);
        sink.byte(10);
      }
    });
    expect(bytes.toString('latin1')).toBe(`${xs.map(fixed7).join('\n')}\n`);
  });

  it('write the same bytes as the row writers', () => {
    const rows: WeatherRow[] = [
      row({
        MinTemp: 13.4,
        Rainfall: -0,
        Sunshine: 1e-7,
        WindGustDir: 'NNE',
        WindDir9am: 'S',
        RainToday: 'Yes',
        RainTomorrow: 'No',
      }),
      row({ Date: '2016-02-29', Location: 'Albury', MaxTemp: 123456.789, Humidity9am: 100, RainTomorrow: 'Yes' }),
      row({ Location: 'Perth', WindDir3pm: 'ESE', RainToday: 'No', Pressure3pm: 1015.25, RainTomorrow: 'No' }),
    ];
    const c = rowsToColumns(rows);
    const idx = Uint32Array.from([2, 0, 1]);
    expect(written((s) => writeRawFeatures(s, c, idx))).toEqual(rawFeaturesCsv(rows, idx));
    expect(written((s) => writeRawLabels(s, c, idx))).toEqual(rawLabelCsv(rows, idx));
    const p = fitPipeline(rows);
    const matrix = transformRows(p, [rows[2]!, rows[0]!, rows[1]!]);
    expect(written((s) => writeFeatureMatrix(s, FEATURE_NAMES, featureWriter(p), c, idx))).toEqual(
      matrixCsv(FEATURE_NAMES, matrix, N_FEATURES),
    );
    expect(written((s) => writeLabels(s, 'RainTomorrow', [1, 0, 1]))).toEqual(labelCsv('RainTomorrow', [1, 0, 1]));
  });
});
