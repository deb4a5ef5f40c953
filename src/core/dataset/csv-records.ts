import { Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import { parse } from 'csv-parse';

const QUOTE = 0x22;

/**
 * Streams CSV records in batches. csv-parse handles anything quoted; while the input has no quote
 * character at all (weatherAUS never quotes), lines are split directly, which is several times faster
 * and gives the same records. The switch happens at the first chunk holding a quote.
 * Blank lines come through as [''] so that counting records counts lines.
 */
export async function* csvRecordBatches(source: Readable): AsyncGenerator<string[][]> {
  // File streams give Buffers; streams set to an encoding (stdin, Readable.from of text) give strings.
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const decoder = new TextDecoder('utf-8');
  let carry = '';
  let first = true;
  for (;;) {
    const next = await chunks.next();
    if (next.done) break;
    const chunk = next.value;
    if (typeof chunk === 'string' ? chunk.includes('"') : chunk.includes(QUOTE)) {
      const head = carry + decode(decoder, chunk);
      yield* quotedRecords(Readable.from(rest(head, chunks, decoder)), first);
      return;
    }
    let text = carry + decode(decoder, chunk);
    if (first) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    const lines = text.split('\n');
    carry = lines.pop()!;
    yield lines.map(splitLine);
  }
  const tail = carry + decoder.decode();
  if (tail !== '') yield [splitLine(first && tail.charCodeAt(0) === 0xfeff ? tail.slice(1) : tail)];
}

function splitLine(line: string): string[] {
  return (line.endsWith('\r') ? line.slice(0, -1) : line).split(',');
}

const decode = (decoder: TextDecoder, chunk: Buffer | string): string => (typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));

async function* rest(head: string, chunks: AsyncIterator<Buffer | string>, decoder: TextDecoder): AsyncGenerator<string> {
  yield head;
  for (;;) {
    const next = await chunks.next();
    if (next.done) break;
    yield decode(decoder, next.value);
  }
  yield decoder.decode();
}

async function* quotedRecords(input: Readable, bom: boolean): AsyncGenerator<string[][]> {
  const parser = input.pipe(parse({ bom, relax_column_count: true, skip_empty_lines: false, trim: false }));
  input.on('error', (err: Error) => parser.destroy(err));
  let batch: string[][] = [];
  for await (const record of parser as AsyncIterable<string[]>) {
    batch.push(record);
    if (batch.length === 1000) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}
