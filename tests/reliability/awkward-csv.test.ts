import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, tempDir } from '../helpers/cli.js';

const HEADER =
  'Date,Location,MinTemp,MaxTemp,Rainfall,Evaporation,Sunshine,WindGustDir,WindGustSpeed,WindDir9am,WindDir3pm,WindSpeed9am,WindSpeed3pm,Humidity9am,Humidity3pm,Pressure9am,Pressure3pm,Cloud9am,Cloud3pm,Temp9am,Temp3pm,RainToday,RainTomorrow';
const row = (i: number, loc = 'Sydney') =>
  `2010-01-${String((i % 28) + 1).padStart(2, '0')},${loc},${10 + (i % 7)},${20 + (i % 5)},${i % 3},4.2,7.1,W,${30 + (i % 9)},NW,SW,11,17,${60 + (i % 30)},45,1012.5,1010.1,5,4,15.2,19.8,${i % 4 ? 'No' : 'Yes'},${i % 3 ? 'No' : 'Yes'}`;
const rows = (n: number, loc?: string) => Array.from({ length: n }, (_, i) => row(i, loc));

async function etl(body: string | Buffer) {
  const home = tempDir();
  const p = join(home, 'awkward.csv');
  writeFileSync(p, body);
  const r = await cli(['etl', '--source', p, '--json'], {}, home);
  return { ...r, out: r.code === 0 ? JSON.parse(r.stdout) : null };
}

describe('awkward CSVs: a correct parse or a clear error', () => {
  it('a byte-order mark and CRLF line endings', async () => {
    const r = await etl(`\ufeff${[HEADER, ...rows(40)].join('\r\n')}\r\n`);
    expect(r.code).toBe(0);
    expect(r.out.rows).toMatchObject({ total: 40, rejected: 0, train: 32, test: 8 });
  });

  it('quoted fields and reordered columns', async () => {
    const cols = HEADER.split(',');
    const order = [...cols].reverse();
    const lines = rows(30).map((l) => {
      const cells = l.split(',');
      return order.map((c) => `"${cells[cols.indexOf(c)]}"`).join(',');
    });
    const r = await etl([order.join(','), ...lines].join('\n'));
    expect(r.code).toBe(0);
    expect(r.out.rows).toMatchObject({ total: 30, rejected: 0 });
  });

  it('Latin-1 bytes in a station name reject that row with its reason, the rest parse', async () => {
    const body = Buffer.concat([
      Buffer.from(`${[HEADER, ...rows(20)].join('\n')}\n`),
      Buffer.from(`${row(21, 'Sydn\xe9y')}\n`, 'latin1'),
    ]);
    const r = await etl(body);
    expect(r.code).toBe(0);
    expect(r.out.rows).toMatchObject({ total: 21, rejected: 1 });
    expect(Object.keys(r.out.rejected_by_reason)[0]).toMatch(/^Location: unknown location .*closest: Sydney/);
  });

  it('an empty file, a header only, and binary garbage give one clear line and exit 1', async () => {
    for (const [body, message] of [
      ['', 'is empty'],
      [`${HEADER}\n`, 'has 0 usable rows'],
      [
        Buffer.from([0, 1, 2, 255, 254, 10, 7, 8]),
        'etl: awkward.csv line 1 is not CSV text (binary or non-UTF-8 bytes)',
      ],
    ] as const) {
      const r = await etl(body);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('an unterminated quote is a clear error', async () => {
    const r = await etl([HEADER, ...rows(5), '"2010-02-01,Sydney'].join('\n'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'etl: awkward.csv line 7 is not CSV text (a quoted field is not closed by the end of the input)',
    );
  });
});
