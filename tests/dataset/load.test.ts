import { describe, expect, it } from 'vitest';
import { parseNumericCsv } from '../../src/core/dataset/load.js';
import { seededRandom } from '../../src/core/dataset/random.js';
import { DataError } from '../../src/core/errors.js';

/** What the loader did before reading bytes: split the text, Number() each cell, store as float32. */
function byText(text: string, cols: number): Float32Array {
  const lines = text.split('\n');
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const data = new Float32Array((lines.length - 1) * cols);
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i]!.split(',');
    for (let j = 0; j < cols; j++) data[(i - 1) * cols + j] = Number(cells[j]);
  }
  return data;
}

describe('parseNumericCsv', () => {
  it('gives the float32 of Number() for every cell, in bytes or text', () => {
    const random = seededRandom(9);
    const cells = [
      '0',
      '-0',
      '1',
      '-1.5',
      '0.1234567',
      '123456789.1234567',
      '1e-7',
      '1E3',
      'NaN',
      'Infinity',
      ' 2',
      '2\r',
    ];
    const rows = Array.from({ length: 5000 }, (_, i) =>
      Array.from({ length: 3 }, (_, j) =>
        i % 50 === 0 ? cells[(i + j) % cells.length]! : ((random() - 0.5) * 10 ** (j * 2)).toFixed(7),
      ).join(','),
    );
    const text = `a,b,c\n${rows.join('\n')}\n\n`;
    const expected = byText(text, 3);
    const fromBytes = parseNumericCsv(Buffer.from(text), 'x.csv', 3);
    expect(fromBytes.rows).toBe(5000);
    expect(Buffer.from(fromBytes.data.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    expect(parseNumericCsv(text, 'x.csv', 3).data).toEqual(fromBytes.data);
  });

  it('names the line of a row with the wrong number of values', () => {
    expect(() => parseNumericCsv('a,b\n1,2\n3\n', 'final/X_train.csv', 2)).toThrow(
      new DataError(
        'final/X_train.csv line 3 has 1 values where 2 were expected; the data set is damaged, run etl again',
      ),
    );
    expect(() => parseNumericCsv('a,b\n1,2\n\n3,4\n', 'x.csv', 2)).toThrow(/x.csv line 3 has 1 values/);
  });

  it('reads labels, a blank line between them as 0 (as Number("") is), trailing blank lines as nothing', () => {
    const y = parseNumericCsv('RainTomorrow\n1\n\n0\n1\n\n\n', 'y.csv', 1);
    expect(Array.from(y.data)).toEqual([1, 0, 0, 1]);
    expect(Array.from(byText('RainTomorrow\n1\n\n0\n1\n\n\n', 1))).toEqual([1, 0, 0, 1]);
  });
});
