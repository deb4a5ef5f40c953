import { describe, expect, it } from 'vitest';
import { EXAMPLE_FEATURES } from '../../src/core/dataset/example.js';
import { seededRandom } from '../../src/core/dataset/random.js';
import { cutBatchJson } from '../../src/core/server/batch-json.js';

let runs = 0;

/** The body cut and its runs parsed: the value; 'whole' when a run does not parse (the caller parses the body whole); null when not cut. */
function parseBatchJson(text: string): { value: unknown } | 'whole' | null {
  const cut = cutBatchJson(text);
  if (!cut) return null;
  runs = cut.runs.length;
  const rows: unknown[] = [];
  for (const run of cut.runs) {
    const part = run();
    if (part === null) return 'whole';
    rows.push(...part);
  }
  return { value: cut.wrapped ? { features: rows } : rows };
}

/** What JSON.parse says: the value, or that it throws. */
function reference(text: string): { value: unknown } | 'throws' {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return 'throws';
  }
}

describe('parseBatchJson', () => {
  it('cuts the batch shapes into runs whose rows are what JSON.parse gives', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      ...EXAMPLE_FEATURES,
      MinTemp: i,
      Location: i % 7 ? 'Adelaide' : 'a "quoted", [bracketed] {braced} \\ place',
    }));
    for (const text of [
      JSON.stringify({ features: rows }),
      JSON.stringify(rows),
      JSON.stringify({ features: rows }, null, 2),
      ` \n[${rows.map((r) => JSON.stringify(r)).join(' ,\n ')}]\n `,
    ]) {
      const parsed = parseBatchJson(text);
      expect(parsed).toEqual({ value: JSON.parse(text) });
      // Megabytes, in several runs.
      expect(runs).toBeGreaterThan(5);
    }
    expect(parseBatchJson('[]')).toEqual({ value: [] });
    expect(parseBatchJson('{"features": []}')).toEqual({ value: { features: [] } });
    expect(parseBatchJson('[[1, [2]], {"a": {"b": "]},"}}, "x", 3.5e2, null, true]')).toEqual({
      value: [[1, [2]], { a: { b: ']},' } }, 'x', 350, null, true],
    });
  });

  it('leaves to JSON.parse every body it cannot cut, or whose runs do not parse', async () => {
    // Other shapes are not cut; broken arrays are, and their run does not parse.
    for (const text of [
      '[1] x',
      '{"features": [1], "features": 2}',
      '{"other": 1, "features": [1]}',
      '{"features": [1]',
      '[1',
      '"x"',
      '{}',
      '[1}',
      '\ufeff[1]',
    ]) {
      expect(parseBatchJson(text), text).toBeNull();
    }
    for (const text of ['[1,]', '[,1]', '[1,,2]', '{"features": [1]]}', '{"features": [1], "x": [2]}']) {
      expect(parseBatchJson(text), text).toBe('whole');
    }
    // Seeded random edits of a valid body: whatever comes back is exactly JSON.parse's value.
    const random = seededRandom(11);
    const base = JSON.stringify({ features: [EXAMPLE_FEATURES, { a: '\\"x\\"', b: [1, { c: ',' }] }, [], 'str', 5] });
    const alphabet = ['"', '\\', ',', '[', ']', '{', '}', ':', ' ', '1', 'x', 'n'];
    let accepted = 0;
    for (let n = 0; n < 3000; n++) {
      let text = base;
      for (let e = 0; e < 1 + Math.floor(random() * 3); e++) {
        const at = Math.floor(random() * text.length);
        const op = random();
        const ch = alphabet[Math.floor(random() * alphabet.length)]!;
        text =
          op < 0.4
            ? text.slice(0, at) + text.slice(at + 1)
            : op < 0.8
              ? text.slice(0, at) + ch + text.slice(at)
              : text.slice(0, at) + ch + text.slice(at + 1);
      }
      const want = reference(text);
      const got = parseBatchJson(text);
      if (got === null) continue;
      // One run here (a small body): it fails only when the body is not JSON, and otherwise gives JSON.parse's value.
      if (got === 'whole') expect(want, text).toBe('throws');
      else {
        accepted++;
        expect(got, text).toEqual(want);
      }
    }
    // The edits leave many bodies valid: the comparison above is not empty.
    expect(accepted).toBeGreaterThan(100);
  });

  it('never gives wrong rows when a cut falls inside a string that holds "},{"', () => {
    const tricky = (i: number) => ({
      ...EXAMPLE_FEATURES,
      Location: i % 3 ? `${'x'.repeat(i % 500)}"},{"` : '},{',
      MinTemp: i,
    });
    for (const n of [1000, 2500]) {
      const rows = Array.from({ length: n }, (_, i) => tricky(i));
      const text = JSON.stringify({ features: rows });
      const got = parseBatchJson(text);
      // Parsed in runs, or left whole: never anything else.
      if (got !== 'whole') expect(got).toEqual({ value: { features: rows } });
    }
    // A string made of the cut pattern across a run boundary: the run cannot parse, so the body is parsed whole.
    const long = JSON.stringify([{ a: '},{'.repeat(100_000) }, { b: 1 }]);
    expect(parseBatchJson(long)).toBe('whole');
  });
});
