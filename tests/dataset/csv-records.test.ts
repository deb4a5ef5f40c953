import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { csvRecordBatches } from '../../src/core/dataset/csv-records.js';

async function records(chunks: Array<Buffer | string>): Promise<string[][]> {
  const out: string[][] = [];
  for await (const batch of csvRecordBatches(Readable.from(chunks))) out.push(...batch);
  return out;
}

/** Cuts text into byte chunks at the given sizes, so multi-byte characters and lines are split. */
function cut(text: string, size: number): Buffer[] {
  const bytes = Buffer.from(text);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

const reference = (text: string) => parse(text, { bom: true, relax_column_count: true, skip_empty_lines: false });

describe('csvRecordBatches', () => {
  const plain = '\ufeffa,b,c\r\n1,2,3\r\n\r\nSydnéy,,NA\r\n4,5,6';
  const quoted = 'a,b,c\n1,2,3\n"x, y","he said ""hi""",z\n7,8,9\n';

  it('splits unquoted input exactly as csv-parse does, whatever the chunking', async () => {
    for (const size of [1, 2, 3, 7, 64, 4096]) {
      expect(await records(cut(plain, size)), `chunks of ${size}`).toEqual(reference(plain));
    }
  });

  it('hands quoted input to csv-parse, even when the first quote comes in a later chunk', async () => {
    for (const size of [1, 5, 9, 13, 4096]) {
      expect(await records(cut(quoted, size)), `chunks of ${size}`).toEqual(reference(quoted));
    }
  });

  it('takes string chunks too', async () => {
    expect(await records([plain.slice(0, 10), plain.slice(10)])).toEqual(reference(plain));
    expect(await records([quoted])).toEqual(reference(quoted));
  });

  it('keeps blank lines as [""] so record counts are line counts', async () => {
    expect(await records(['h\n\nx\n'])).toEqual([['h'], [''], ['x']]);
  });
});
