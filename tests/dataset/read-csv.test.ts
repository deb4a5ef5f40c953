import { mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/core/errors.js';
import { readWeatherCsv } from '../../src/core/dataset/read-csv.js';
import { RAW_COLUMNS } from '../../src/core/dataset/schema.js';
import { tempDir } from '../helpers/temp.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const READ_CSV_TS = fileURLToPath(new URL('../../src/core/dataset/read-csv.ts', import.meta.url));
const dir = tempDir('rainops-readcsv-');
let counter = 0;
function file(text: string | Buffer, name = `w${counter++}.csv`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const HEADER = RAW_COLUMNS.join(',');
// Lines 2..5 of weatherAUS.csv style rows.
const R1 = '2008-12-01,Albury,13.4,22.9,0.6,NA,NA,W,44,W,WNW,20,24,71,22,1007.7,1007.1,8,NA,16.9,21.8,No,No';
const R2 = '2008-12-02,Albury,7.4,25.1,0,NA,NA,WNW,44,NNW,WSW,4,22,44,25,1010.6,1007.8,NA,NA,17.2,24.3,No,No';
const R3 = '2017-06-25,Sydney,8.1,17.4,0,2.4,7.8,W,41,W,WNW,17,24,63,41,1021.4,1019.2,1,2,11.2,16.9,No,Yes';
const R4 = '2017-06-24,Perth,,,,,,,,,,,,,,,,,,,,,';
const csv = (...lines: string[]) => `${lines.join('\n')}\n`;

const EXPECTED_R1 = {
  Date: '2008-12-01',
  Location: 'Albury',
  MinTemp: 13.4,
  MaxTemp: 22.9,
  Rainfall: 0.6,
  Evaporation: null,
  Sunshine: null,
  WindGustDir: 'W',
  WindGustSpeed: 44,
  WindDir9am: 'W',
  WindDir3pm: 'WNW',
  WindSpeed9am: 20,
  WindSpeed3pm: 24,
  Humidity9am: 71,
  Humidity3pm: 22,
  Pressure9am: 1007.7,
  Pressure3pm: 1007.1,
  Cloud9am: 8,
  Cloud3pm: null,
  Temp9am: 16.9,
  Temp3pm: 21.8,
  RainToday: 'No',
  RainTomorrow: 'No',
};

describe('readWeatherCsv', () => {
  it('reads rows with numbers, NA and empty cells as null', async () => {
    const r = await readWeatherCsv(file(csv(HEADER, R1, R2, R3, R4)));
    expect(r.total).toBe(4);
    expect(r.rejected).toBe(0);
    expect(r.afterUntil).toBe(0);
    expect(r.rows).toHaveLength(4);
    expect(r.rows[0]).toEqual(EXPECTED_R1);
    expect(r.rows[2]!.RainTomorrow).toBe('Yes');
    expect(r.rows[3]).toEqual({
      ...Object.fromEntries(RAW_COLUMNS.map((c) => [c, null])),
      Date: '2017-06-24',
      Location: 'Perth',
    });
    expect(r.lines).toEqual([2, 3, 4, 5]);
  });

  it('names a missing column', async () => {
    const header = RAW_COLUMNS.filter((c) => c !== 'Humidity3pm').join(',');
    await expect(readWeatherCsv(file(csv(header)))).rejects.toThrow(DataError);
    await expect(readWeatherCsv(file(csv(header)))).rejects.toThrow(/column Humidity3pm is missing/);
    const two = RAW_COLUMNS.filter((c) => c !== 'Sunshine' && c !== 'RainTomorrow').join(',');
    await expect(readWeatherCsv(file(csv(two)))).rejects.toThrow(/columns Sunshine, RainTomorrow are missing/);
  });

  it('rejects an empty file', async () => {
    await expect(readWeatherCsv(file(''))).rejects.toThrow(DataError);
    await expect(readWeatherCsv(file(''))).rejects.toThrow(/empty/);
  });

  it('accepts a header without rows', async () => {
    const r = await readWeatherCsv(file(csv(HEADER)));
    expect(r).toMatchObject({ rows: [], total: 0, rejected: 0 });
  });

  // Run in a child process: a stream error the reader does not handle is an uncaught
  // exception that would take the test worker down (and hang the awaited promise).
  const readInChild = (path: string) => {
    const script = `
      const { readWeatherCsv } = await import(${JSON.stringify(READ_CSV_TS)});
      try { await readWeatherCsv(${JSON.stringify(path)}); console.log('RESOLVED'); }
      catch (e) { console.log('CAUGHT ' + e.name + ': ' + e.message); }`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 10_000,
    });
    return `${r.stdout}${r.stderr}`;
  };

  it('reports a missing file as DataError', () => {
    expect(readInChild(join(dir, 'nope.csv'))).toMatch(/^CAUGHT DataError: etl: source .*nope\.csv does not exist/m);
  });

  it('reports a folder as DataError', () => {
    const sub = join(dir, 'folder.csv');
    mkdirSync(sub);
    expect(readInChild(sub)).toMatch(/^CAUGHT DataError: etl: source .*folder\.csv is a folder/m);
  });

  it('rejects a row with a garbage number and counts the reason', async () => {
    const bad1 = R1.replace(',13.4,', ',13.4abc,');
    const bad2 = R2.replace(',7.4,', ',seven,');
    const bad3 = R3.replace(',63,', ',1O0,'); // letter O, Humidity9am
    const r = await readWeatherCsv(file(csv(HEADER, bad1, R3, bad2, bad3, R2)));
    expect(r.total).toBe(5);
    expect(r.rejected).toBe(3);
    expect(r.rows.map((x) => x.Date)).toEqual(['2017-06-25', '2008-12-02']);
    expect(r.lines).toEqual([3, 6]);
    expect(r.rejectedByReason).toEqual({ 'MinTemp: expected a number': 2, 'Humidity9am: expected a number': 1 });
  });

  it('rejects out-of-range values, bad categories and impossible dates', async () => {
    const rows = [
      R1.replace(',13.4,', ',55,'), // MinTemp > 50
      R1.replace(',W,44,', ',NORTH,44,'),
      R1.replace(',No,No', ',Maybe,No'),
      R1.replace('2008-12-01', '2015-02-29'),
      R1.replace('Albury', 'Sydnee'),
    ];
    const r = await readWeatherCsv(file(csv(HEADER, ...rows, R2)));
    expect(r.rejected).toBe(5);
    expect(r.rows).toHaveLength(1);
    const reasons = Object.keys(r.rejectedByReason);
    expect(reasons.some((k) => k.startsWith('MinTemp:'))).toBe(true);
    expect(reasons.some((k) => k.startsWith('WindGustDir:'))).toBe(true);
    expect(reasons.some((k) => k.startsWith('RainToday:'))).toBe(true);
    expect(reasons).toContain('Date: expected a real calendar day as YYYY-MM-DD');
    expect(reasons.find((k) => k.startsWith('Location:'))).toMatch(/unknown location "Sydnee"; closest: Sydney/);
  });

  it('in strict mode fails on the first bad row, naming the file and line', async () => {
    const path = file(csv(HEADER, R1, R2, R1.replace('Albury', 'Sydnee'), R3.replace(',8.1,', ',x,')), 'strict.csv');
    const err = await readWeatherCsv(path, { strict: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/strict\.csv line 4: Location: unknown location "Sydnee"/);
  });

  it('in strict mode counts lines in the source, blank lines included', async () => {
    // line 1 header, 2 R1, 3 blank, 4 bad row
    const path = file(`${HEADER}\n${R1}\n\n${R2.replace(',7.4,', ',x,')}\n`, 'blank.csv');
    const err = await readWeatherCsv(path, { strict: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/blank\.csv line 4: MinTemp/);
  });

  it('reports the source line of kept rows, blank lines included', async () => {
    const r = await readWeatherCsv(file(`${HEADER}\n${R1}\n\n${R2}\n`));
    expect(r.rows).toHaveLength(2);
    expect(r.lines).toEqual([2, 4]);
  });

  it('handles a byte-order mark, CRLF endings and quoted fields', async () => {
    const quoted = R1.replace('Albury', '"Albury"').replace(',13.4,', ',"13.4",').replace(',No,No', ',"No","No"');
    const text = `\uFEFF${[HEADER, quoted, R2].join('\r\n')}\r\n`;
    const r = await readWeatherCsv(file(Buffer.from(text, 'utf8')));
    expect(r.rejected).toBe(0);
    expect(r.rows).toHaveLength(2);
    expect(r.rows[0]).toEqual(EXPECTED_R1);
    expect(r.rows[1]!.RainTomorrow).toBe('No'); // no stray \r
    expect(r.rows[1]!.Temp3pm).toBe(24.3);
  });

  it('maps columns by header name, in any order', async () => {
    const order = [...RAW_COLUMNS].reverse();
    const line = (r: string) => {
      const cells = r.split(',');
      return order.map((c) => cells[RAW_COLUMNS.indexOf(c)]).join(',');
    };
    const r = await readWeatherCsv(file(csv(order.join(','), line(R1), line(R3))));
    expect(r.rows[0]).toEqual(EXPECTED_R1);
    expect(r.rows[1]!.Location).toBe('Sydney');
    expect(r.rows[1]!.Evaporation).toBe(2.4);
  });

  it('ignores extra columns', async () => {
    const r = await readWeatherCsv(file(csv(`${HEADER},Extra`, `${R1},zzz`)));
    expect(r.rows[0]).toEqual(EXPECTED_R1);
  });

  it('keeps rows up to the until day and counts the others', async () => {
    const r = await readWeatherCsv(file(csv(HEADER, R1, R3, R2, R4)), { until: '2008-12-02' });
    expect(r.total).toBe(4);
    expect(r.afterUntil).toBe(2);
    expect(r.rows.map((x) => x.Date)).toEqual(['2008-12-01', '2008-12-02']);
    expect(r.lines).toEqual([2, 4]);
  });

  it('lets an optional column be absent', async () => {
    const header = RAW_COLUMNS.slice(0, -1).join(',');
    const drop = (r: string) => r.slice(0, r.lastIndexOf(','));
    const path = file(csv(header, drop(R1), drop(R3)));
    await expect(readWeatherCsv(path)).rejects.toThrow(/column RainTomorrow is missing/);
    const r = await readWeatherCsv(path, { optionalColumns: ['RainTomorrow'] });
    expect(r.rows).toHaveLength(2);
    expect(r.rows[0]).toEqual({ ...EXPECTED_R1, RainTomorrow: null });
  });

  it('rejects non-decimal numerals such as hex', async () => {
    // Number('0x10') is 16: a hex cell must not pass as a valid humidity of 16.
    const r = await readWeatherCsv(file(csv(HEADER, R1.replace(',71,', ',0x10,'))));
    expect(r.rejected).toBe(1);
  });
});
