import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { CsvTextError, csvRecordBatches, parseQuotedLine } from '../../src/core/dataset/csv-records.js';
import type { CsvRecord } from '../../src/core/dataset/csv-records.js';

async function records(chunks: Array<Buffer | string>, perLine = false): Promise<CsvRecord[]> {
  const out: CsvRecord[] = [];
  for await (const batch of csvRecordBatches(Readable.from(chunks), { perLine })) out.push(...batch);
  return out;
}

async function failure(chunks: Array<Buffer | string>): Promise<CsvTextError> {
  try {
    await records(chunks);
  } catch (err) {
    if (err instanceof CsvTextError) return err;
    throw err;
  }
  throw new Error('expected the input to be refused');
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

  it('refuses binary bytes on the first line, and quoting csv-parse cannot read, naming the line but not the bytes', async () => {
    const sliced = (bytes: Buffer, size: number) =>
      Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
    // a zip's first bytes (with a NUL), and Latin-1 text that is not UTF-8
    for (const bytes of [
      Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x22, 0x0a, 0x41]),
      Buffer.from('Date,Locati\xf3n\n1,2\n', 'latin1'),
    ]) {
      for (const size of [1, 3, 4096]) {
        const err = await failure(sliced(bytes, size));
        expect(err.message).toBe('line 1 is not CSV text (binary or non-UTF-8 bytes)');
      }
    }
    // past the header, odd bytes are a matter for the row schema
    expect(await records([Buffer.from('a,b\n\xf3,\x00\n', 'latin1')])).toEqual([
      ['a', 'b'],
      ['\ufffd', '\x00'],
    ]);
    const quotes = 'a,b\n1,2\n3,4\nx,=HYPERLINK("http://e.x")\n5,6\n';
    for (const size of [2, 5, 4096]) {
      const err = await failure(cut(quotes, size));
      expect(err.message, `chunks of ${size}`).toBe('line 4 is not CSV text (a quote inside an unquoted field)');
    }
    expect((await failure(['a,b\n"x"y,1\n'])).message).toBe('line 2 is not CSV text (text after a closing quote)');
    expect((await failure(['a,b\n1,2\n"never closed,1\n2,3\n'])).message).toMatch(
      /^line \d+ is not CSV text \(a quoted field is not closed by the end of the input\)$/,
    );
  });

  it('line by line, keeps a line that is not CSV in place and reads the rest', async () => {
    const text = 'a,b,c\r\n"q,1",2,3\r\nx,=HYPERLINK("http://e.x"),z\n\n"open,1,2\n"a"b,1,2\n7,"say ""hi""",9';
    for (const size of [1, 4, 4096]) {
      expect(await records(cut(text, size), true), `chunks of ${size}`).toEqual([
        ['a', 'b', 'c'],
        ['q,1', '2', '3'],
        { notCsv: 'a quote inside an unquoted field' },
        [''],
        { notCsv: 'a quoted field is not closed on its line' },
        { notCsv: 'text after a closing quote' },
        ['7', 'say "hi"', '9'],
      ]);
    }
  });

  it('reads one quoted line as csv-parse does', () => {
    for (const line of ['"a",b,"c"', '"",,""', '"x,y","z""",w', 'a,"b\r"', ',', '"a"', '"a",']) {
      expect(parseQuotedLine(line), line).toEqual(reference(line)[0]);
    }
  });
});
