import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MISSING, rowsToColumns } from '../../src/core/dataset/columns.js';
import { readWeatherColumns } from '../../src/core/dataset/read-columns.js';
import type { ColumnsReadOptions } from '../../src/core/dataset/read-columns.js';
import { readWeatherCsv } from '../../src/core/dataset/read-csv.js';
import { seededRandom } from '../../src/core/dataset/random.js';
import { dayNumber } from '../../src/core/features/dates.js';
import { LOCATION_NAMES } from '../../src/core/features/locations.js';
import { weatherCsvText } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('rainops-readcols-');
let counter = 0;
function file(text: string | Buffer): string {
  const path = join(dir, `c${counter++}.csv`);
  writeFileSync(path, text);
  return path;
}

const lines = weatherCsvText().trimEnd().split('\n');
const HEADER = lines[0]!;
const ROWS = lines.slice(1);

/** Real rows with every kind of cell the schema rejects or that the fast path leaves to the schema. */
function messy(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const numbers = ['abc', '1e1', '+5', '.5', '5.', '-0', ' 13.4 ', '13.40000000000000001', '0x10', 'NA', '', '1e999'];
  const more = ['-1000', '99999', 'NaN', 'Infinity', '1.2.3', '007.50', '12345678901234567890.5', '\ufeff1'];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let c = ROWS[(i * 7919) % ROWS.length]!.split(',');
    const k = random();
    if (k < 0.05) c[2 + Math.floor(random() * 19)] = pick([...numbers, ...more]);
    else if (k < 0.07) c[1] = pick(['Atlantis', 'sydney', ' Sydney', 'Sydney ', 'Zürich', 'NA', '']);
    else if (k < 0.09) c[0] = pick(['2015-02-29', '2016-02-29', '2015-13-01', '2015-4-1', ' 2015-04-01', 'NA', '']);
    else if (k < 0.11) c[pick([7, 9, 10])] = pick(['east', 'E ', 'NA', '', 'N', 'XYZ']);
    else if (k < 0.13) c[pick([21, 22])] = pick(['yes', 'Y', 'NA', '', 'No', 'Yes ']);
    else if (k < 0.14) c = c.slice(0, 1 + Math.floor(random() * 21));
    else if (k < 0.15) c.push('extra');
    else if (k < 0.16) c[2] = '-11';
    if (random() < 0.01) out.push('');
    out.push(c.join(','));
  }
  return out;
}

/** Both readers on the same bytes: the same counts and reasons, and the labelled rows as the same columns. */
async function expectSameAsRows(make: () => Readable, opts: ColumnsReadOptions = {}) {
  const old = await readWeatherCsv({ stream: make(), name: 'w.csv' }, opts).catch((e: Error) => e);
  const neu = await readWeatherColumns({ stream: make(), name: 'w.csv' }, opts).catch((e: Error) => e);
  if (old instanceof Error || neu instanceof Error) {
    expect(neu).toBeInstanceOf(Error);
    expect((neu as Error).message).toBe((old as Error).message);
    return null;
  }
  const labelled = old.rows.filter((r) => r.RainTomorrow !== null);
  expect({
    total: neu.total,
    rejected: neu.rejected,
    afterUntil: neu.afterUntil,
    unlabelled: neu.unlabelled,
    reasons: neu.rejectedByReason,
  }).toEqual({
    total: old.total,
    rejected: old.rejected,
    afterUntil: old.afterUntil,
    unlabelled: old.rows.length - labelled.length,
    reasons: old.rejectedByReason,
  });
  expect({ ...neu.columns }).toEqual({ ...rowsToColumns(labelled) });
  return neu;
}

/** A stream of the bytes in pieces of `size`, so lines, and characters, span pieces. */
const pieces = (bytes: Buffer, size: number) => () =>
  Readable.from(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)),
  );

describe('readWeatherColumns reads what readWeatherCsv reads', () => {
  const body = Buffer.from(`${HEADER}\n${messy(4000, 3).join('\n')}\n`);

  it('on real rows with garbage, out-of-bounds values, bad categories and dates, short and long lines', async () => {
    const read = await expectSameAsRows(pieces(body, 1 << 16));
    expect(read!.rejected).toBeGreaterThan(300);
    expect(Object.keys(read!.rejectedByReason).length).toBeGreaterThan(20);
  });

  it('in small pieces, with --until, and with --strict naming the first bad line', async () => {
    await expectSameAsRows(pieces(Buffer.from(`${HEADER}\n${messy(600, 11).join('\n')}\n`), 7));
    const until = await expectSameAsRows(pieces(body, 4096), { until: '2012-06-30' });
    expect(until!.afterUntil).toBeGreaterThan(100);
    await expectSameAsRows(pieces(body, 4096), { strict: true });
  });

  it('with a byte-order mark, CRLF endings, a header in another order and no final line end', async () => {
    const order = HEADER.split(',').map((_, j) => j);
    order.reverse();
    const reordered = [HEADER, ...messy(500, 5)].map((l) => {
      const c = l.split(',');
      return l === '' ? l : order.map((j) => c[j] ?? '').join(',');
    });
    await expectSameAsRows(pieces(Buffer.from(`\ufeff${reordered.join('\r\n')}`), 1000));
  });

  it('switches to csv-parse from the piece holding the first quote, and names a line that is not CSV', async () => {
    const rows = messy(3000, 7);
    rows[2500] = rows[2500]!.replace(/,No$/, ',"No"');
    rows[2700] = '2015-01-01,"Syd""ney",1,2,3,4,5,N,6,N,N,7,8,9,10,1000,1000,1,1,10,11,No,No';
    await expectSameAsRows(pieces(Buffer.from(`${HEADER}\n${rows.join('\n')}\n`), 1 << 14));
    rows[2800] = '2015-01-01,Sydney"x,1';
    await expectSameAsRows(pieces(Buffer.from(`${HEADER}\n${rows.join('\n')}\n`), 1 << 14));
    await expectSameAsRows(pieces(Buffer.from(`"Date",${HEADER.slice(5)}\n${rows.slice(0, 50).join('\n')}\n`), 999));
  });

  it('explains an empty file, a missing column and binary bytes, as readWeatherCsv does', async () => {
    await expectSameAsRows(pieces(Buffer.from(''), 10));
    await expectSameAsRows(pieces(Buffer.from('\n\n'), 10));
    await expectSameAsRows(pieces(Buffer.from(`${HEADER.replace(',RainTomorrow', '')}\n${ROWS[0]}\n`), 10));
    await expectSameAsRows(pieces(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0a, 0x41]), 3));
  });

  it('reads a path, gzip included, and says when it does not exist', async () => {
    const path = file(`${HEADER}\n${ROWS.slice(0, 20).join('\n')}\n`);
    const read = await readWeatherColumns(path);
    expect(read.total).toBe(20);
    await expect(readWeatherColumns(join(dir, 'nope.csv'))).rejects.toThrow(/nope.csv does not exist/);
  });
});

describe('readWeatherColumns columns', () => {
  it('codes dates as day numbers, categories as small codes and missing numbers as NaN', async () => {
    const body = `${HEADER}\n2008-12-01,Albury,13.4,22.9,0.6,NA,,W,44,W,WNW,20,24,71,22,1007.7,1007.1,8,NA,16.9,21.8,,Yes\n`;
    const { columns: c } = await readWeatherColumns({ stream: Readable.from([Buffer.from(body)]), name: 'x.csv' });
    expect(c.length).toBe(1);
    expect(c.day[0]).toBe(dayNumber(2008, 12, 1));
    expect(LOCATION_NAMES[c.location[0]!]).toBe('Albury');
    expect(Number.isNaN(c.num[3]![0]!)).toBe(true); // Evaporation NA
    expect(Number.isNaN(c.num[4]![0]!)).toBe(true); // Sunshine empty
    expect(c.num[0]![0]).toBe(13.4);
    expect(c.rainToday[0]).toBe(MISSING);
    expect(c.rainTomorrow[0]).toBe(1);
  });
});
