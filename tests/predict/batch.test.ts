import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { answer } from '../../src/core/bundle/predictor.js';
import type { FeatureInput } from '../../src/core/dataset/schema.js';
import { DataError } from '../../src/core/errors.js';
import { predictBatch } from '../../src/core/predict/batch.js';
import { iterateInputRows } from '../../src/core/predict/rows.js';
import type { RowScorer } from '../../src/core/predict/scorer.js';
import { tempDir } from '../helpers/cli.js';
import { HEADER, ROW1, ROW2 } from './fixtures.js';

/** Rain when it is humid in the afternoon; records the size of every chunk it is given. */
function fakeScorer(chunks: number[] = []): RowScorer {
  return {
    describe: 'fake',
    predict: async () => {
      throw new Error('not used');
    },
    scoreRows: async (rows: readonly FeatureInput[]) => {
      chunks.push(rows.length);
      return { model: { name: 'M', version: 3 }, answers: rows.map((r) => answer((r.Humidity3pm ?? 50) / 100, 0.4)) };
    },
  };
}

const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

describe('batch input rows', () => {
  it('reads CSV with NA as missing, ignores RainTomorrow (even an invalid one) and reports lines', async () => {
    const text = `${[HEADER, ROW1, '', ROW2.replace(/Yes$/, 'Maybe'), ROW1.replace(',13.4,', ',abc,')].join('\n')}\n`;
    const items = await collect(iterateInputRows(Readable.from([text]), 'rows.csv', 'csv'));
    expect(items.map((i) => i.line)).toEqual([2, 4, 5]);
    expect(items[0]!.row).toMatchObject({ Location: 'Albury', Evaporation: null, RainTomorrow: null });
    expect(items[1]!.row).toMatchObject({ Location: 'Sydney', RainTomorrow: null });
    expect(items[2]).toEqual({ line: 5, reason: 'MinTemp: expected a number' });
    const noLabel = `${HEADER.replace(',RainTomorrow', '')}\n${ROW1.replace(/,No$/, '')}\n`;
    expect(await collect(iterateInputRows(Readable.from([noLabel]), 'rows.csv', 'csv'))).toHaveLength(1);
  });

  it('reads JSON Lines of raw rows or API bodies, numbers as numbers or text, NA or null as missing', async () => {
    const lines = [
      JSON.stringify({
        Date: '2008-12-01',
        Location: 'Albury',
        MinTemp: 13.4,
        MaxTemp: '22.9',
        Evaporation: 'NA',
        Sunshine: null,
        RainToday: 'No',
        RainTomorrow: 'bogus',
      }),
      '',
      JSON.stringify({ features: { Date: '2017-06-25', Location: 'Sydney', Humidity3pm: 41, RainToday: 1 } }),
      '{not json',
      '[1, 2]',
      JSON.stringify({ Date: '2017-02-30', Location: 'Sydney' }),
      JSON.stringify({ Date: '2017-06-25', Location: 'Sydney', MinTemp: 'cold' }),
    ];
    const items = await collect(iterateInputRows(Readable.from([lines.join('\n')]), 'rows.jsonl', 'jsonl'));
    expect(items.map((i) => [i.line, i.reason ?? 'ok'])).toEqual([
      [1, 'ok'],
      [3, 'ok'],
      [4, 'not valid JSON'],
      [5, 'not a JSON object of features'],
      [6, 'Date: expected a real calendar day as YYYY-MM-DD'],
      [7, 'MinTemp: expected a number'],
    ]);
    expect(items[0]!.row).toMatchObject({
      MinTemp: 13.4,
      MaxTemp: 22.9,
      Evaporation: null,
      Sunshine: null,
      Rainfall: null,
      RainTomorrow: null,
    });
    expect(items[1]!.row).toMatchObject({ Humidity3pm: 41, RainToday: 'Yes' });
  });
});

describe('predictBatch', () => {
  const write = (name: string, text: string | Buffer) => {
    const p = join(tempDir(), name);
    writeFileSync(p, text);
    return p;
  };

  it('writes Date, Location and the answer per valid row, and counts invalid rows by reason with their lines', async () => {
    const bad = ROW1.replace('Albury', 'Atlantis');
    const input = write('rows.csv', `${[HEADER, ROW1, bad, ROW2, bad, ROW1.replace(',71,', ',0x10,')].join('\n')}\n`);
    const output = join(tempDir(), 'preds.csv');
    const r = await predictBatch(
      { input, inputFormat: 'csv', output, outputFormat: 'csv', strict: false },
      { scorer: fakeScorer() },
    );
    expect(r).toMatchObject({ rows: 5, predicted: 2, rejected: 3, rain: 1, model: { name: 'M', version: 3 }, output });
    expect(r.rejectedByReason).toEqual({
      'Location: unknown location "Atlantis"; closest: Albany, Watsonia, Adelaide': { count: 2, lines: [3, 5] },
      'Humidity9am: expected a number': { count: 1, lines: [6] },
    });
    expect(readFileSync(output, 'utf8').split('\n')).toEqual([
      'Date,Location,prediction_bool,probability,prediction_str',
      '2008-12-01,Albury,0,0.22,Más seco que el Sahara. Mañana posiblemente no llueva...',
      '2017-06-25,Sydney,1,0.41,Toma un paraguas. Mañana puede que llueva.',
      '',
    ]);
  });

  it('writes JSON Lines to a sink', async () => {
    const input = write('rows.csv', [HEADER, ROW2].join('\n'));
    let out = '';
    await predictBatch(
      { input, inputFormat: 'csv', output: null, outputFormat: 'jsonl', strict: false },
      { scorer: fakeScorer(), sink: { write: (s: string) => (out += s) } },
    );
    expect(JSON.parse(out)).toEqual({
      Date: '2017-06-25',
      Location: 'Sydney',
      prediction_bool: 1,
      probability: 0.41,
      prediction_str: 'Toma un paraguas. Mañana puede que llueva.',
    });
  });

  it('with strict, stops at the first invalid row naming its line, and leaves no output behind', async () => {
    const input = write('rows.csv', [HEADER, ROW1, ROW2, ROW1.replace(',13.4,', ',99,')].join('\n'));
    const dir = tempDir();
    const err = await predictBatch(
      { input, inputFormat: 'csv', output: join(dir, 'preds.csv'), outputFormat: 'csv', strict: true, chunkSize: 1 },
      { scorer: fakeScorer() },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toBe(
      'predict: rows.csv line 4: MinTemp: Too big: expected number to be <=50; fix the row or run without --strict to skip invalid rows',
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('streams: scores in chunks and writes each before reading far ahead', async () => {
    const rows = 25_000;
    const dir = tempDir();
    const input = join(dir, 'big.csv');
    writeFileSync(input, `${HEADER}\n${Array.from({ length: rows }, () => ROW2).join('\n')}\n`);
    const chunks: number[] = [];
    let written = 0;
    const progress: Array<{ rows: number; written: number }> = [];
    const sink = { write: (s: string) => (written += s.length) };
    const r = await predictBatch(
      { input, inputFormat: 'csv', output: null, outputFormat: 'csv', strict: false },
      { scorer: fakeScorer(chunks), sink, onProgress: (p) => progress.push({ rows: p.rows, written }) },
    );
    expect(r.predicted).toBe(rows);
    expect(Math.max(...chunks)).toBe(1_000);
    expect(chunks.reduce((a, b) => a + b, 0)).toBe(rows);
    // Output for the first chunk exists when only the first chunk has been read.
    expect(progress[0]).toMatchObject({ rows: 1_000 });
    expect(progress[0]!.written).toBeGreaterThan(1_000 * 50);
  });

  it('stops early, without an error, when the reader of standard output goes away', async () => {
    const dir = tempDir();
    const input = join(dir, 'big.csv');
    writeFileSync(input, `${HEADER}\n${Array.from({ length: 5_000 }, () => ROW2).join('\n')}\n`);
    // Like process.stdout piped into `head`: full at once, then EPIPE.
    const sink = Object.assign(new EventEmitter(), {
      write: () => {
        setImmediate(() => sink.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })));
        return false;
      },
    });
    const r = await predictBatch(
      { input, inputFormat: 'csv', output: null, outputFormat: 'csv', strict: false },
      { scorer: fakeScorer(), sink },
    );
    expect(r.complete).toBe(false);
    expect(r.rows).toBeLessThan(5_000);
    expect(sink.listenerCount('error')).toBe(0);
  });

  it('names an input that does not exist, and an output folder that does not exist', async () => {
    const missing = await predictBatch(
      { input: '/nonexistent/rows.csv', inputFormat: 'csv', output: null, outputFormat: 'csv', strict: false },
      { scorer: fakeScorer(), sink: { write: () => true } },
    ).catch((e: Error) => e);
    expect(missing).toBeInstanceOf(DataError);
    expect((missing as Error).message).toBe(
      'predict: input /nonexistent/rows.csv does not exist; pass --input with a CSV or JSONL file of weatherAUS rows',
    );
    const input = write('rows.csv', [HEADER, ROW2].join('\n'));
    const noDir = await predictBatch(
      { input, inputFormat: 'csv', output: '/nonexistent/dir/preds.csv', outputFormat: 'csv', strict: false },
      { scorer: fakeScorer() },
    ).catch((e: Error) => e);
    expect((noDir as Error).message).toMatch(
      /^predict: cannot write \/nonexistent\/dir\/preds\.csv \(ENOENT\); check that its folder exists and is writable$/,
    );
    expect(existsSync('/nonexistent/dir')).toBe(false);
  });

  it('reports a row that is not CSV text as an invalid row with its line, and scores the others', async () => {
    const link = ROW1.replace('Albury', '=HYPERLINK("http://e.x/a","Albury")');
    const quoted = ROW2.replace('Sydney', '"Sydney"');
    const input = write('rows.csv', `${[HEADER, ROW1, link, quoted, `"unclosed,${ROW1}`].join('\n')}\n`);
    let out = '';
    const r = await predictBatch(
      { input, inputFormat: 'csv', output: null, outputFormat: 'csv', strict: false },
      { scorer: fakeScorer(), sink: { write: (t: string) => (out += t) } },
    );
    expect(r).toMatchObject({ rows: 4, predicted: 2, rejected: 2 });
    expect(r.rejectedByReason).toEqual({
      'not CSV text: a quote inside an unquoted field': { count: 1, lines: [3] },
      'not CSV text: a quoted field is not closed on its line': { count: 1, lines: [5] },
    });
    expect(out.split('\n').map((l) => l.split(',').slice(0, 2).join(','))).toEqual([
      'Date,Location',
      '2008-12-01,Albury',
      '2017-06-25,Sydney',
      '',
    ]);
    const strict = await predictBatch(
      { input, inputFormat: 'csv', output: null, outputFormat: 'csv', strict: true },
      { scorer: fakeScorer(), sink: { write: () => true } },
    ).catch((e: Error) => e);
    expect((strict as Error).message).toBe(
      'predict: rows.csv line 3: not CSV text: a quote inside an unquoted field; fix the row or run without --strict to skip invalid rows',
    );
  });

  it('refuses a binary or garbage file as a DataError naming the file and line, writing nothing to the sink or the output', async () => {
    const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x22, 0xfe]), Buffer.from('\n"abc"d,\x00\n')]);
    const header = HEADER.replace('Date', '=X("a")Date');
    for (const [text, message] of [
      [
        garbage,
        'predict: garbage.csv line 1 is not CSV text (binary or non-UTF-8 bytes); expected the weatherAUS header and comma-separated rows',
      ],
      [
        `${header}\n${ROW1}\n`,
        'predict: garbage.csv line 1 is not CSV text (a quote inside an unquoted field); expected the weatherAUS header and comma-separated rows',
      ],
    ] as const) {
      const input = write('garbage.csv', text);
      let out = '';
      const err = await predictBatch(
        { input, inputFormat: 'csv', output: null, outputFormat: 'csv', strict: false },
        { scorer: fakeScorer(), sink: { write: (t: string) => (out += t) } },
      ).catch((e: Error) => e);
      expect(err).toBeInstanceOf(DataError);
      expect((err as Error).message).toBe(message);
      expect(out).toBe('');
      const dir = tempDir();
      await predictBatch(
        { input, inputFormat: 'csv', output: join(dir, 'p.csv'), outputFormat: 'csv', strict: false },
        { scorer: fakeScorer() },
      ).catch(() => null);
      expect(readdirSync(dir)).toEqual([]);
    }
  });

  it('writes the header alone when no row is valid', async () => {
    const input = write('rows.csv', [HEADER, ROW1.replace('Albury', 'Atlantis')].join('\n'));
    let out = '';
    const r = await predictBatch(
      { input, inputFormat: 'csv', output: null, outputFormat: 'csv', strict: false },
      { scorer: fakeScorer(), sink: { write: (t: string) => (out += t) } },
    );
    expect(r.rejected).toBe(1);
    expect(out).toBe('Date,Location,prediction_bool,probability,prediction_str\n');
  });

  it('says so when standard output is on a full disk', async () => {
    const input = write('rows.csv', [HEADER, ROW2].join('\n'));
    const sink = Object.assign(new EventEmitter(), {
      write: () => {
        setImmediate(() => sink.emit('error', Object.assign(new Error('write ENOSPC'), { code: 'ENOSPC' })));
        return false;
      },
    });
    const err = await predictBatch(
      { input, inputFormat: 'csv', output: null, outputFormat: 'csv', strict: false },
      { scorer: fakeScorer(), sink },
    ).catch((e: Error) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toBe(
      'predict: no space left on device while writing predictions to standard output; free space, or write them to another disk with --output',
    );
  });
});
