import { describe, expect, it } from 'vitest';
import { EXAMPLE_FEATURES } from '../../src/core/dataset/example.js';
import { seededRandom } from '../../src/core/dataset/random.js';
import { cutBatchJson } from '../../src/core/server/batch-json.js';

// Pauses at every look at the clock, to go through every path that waits.
let pauses = 0;
const slicer = {
  due: () => true,
  pause: async () => {
    pauses++;
  },
};

/** The body cut and its runs parsed: the value, 'not json' when a run does not parse, null when not cut. */
async function parseBatchJson(text: string): Promise<{ value: unknown } | 'not json' | null> {
  const cut = await cutBatchJson(text, slicer);
  if (!cut) return null;
  const rows: unknown[] = [];
  for (const run of cut.runs) {
    const part = run();
    if (part === null) return 'not json';
    rows.push(...part);
  }
  expect(rows).toHaveLength(cut.count);
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
      pauses = 0;
      const parsed = await parseBatchJson(text);
      expect(parsed).toEqual({ value: JSON.parse(text) });
      // Megabytes: scanned and parsed in several slices.
      expect(pauses).toBeGreaterThan(5);
    }
    expect(await parseBatchJson('[]')).toEqual({ value: [] });
    expect(await parseBatchJson('{"features": []}')).toEqual({ value: { features: [] } });
    expect(await parseBatchJson('[[1, [2]], {"a": {"b": "]},"}}, "x", 3.5e2, null, true]')).toEqual({
      value: [[1, [2]], { a: { b: ']},' } }, 'x', 350, null, true],
    });
  });

  it('leaves to JSON.parse every body it cannot cut cleanly; its runs parse only when the body is JSON', async () => {
    for (const text of [
      '[1,]',
      '[,1]',
      '[1,,2]',
      '[1] x',
      '{"features": [1], "features": 2}',
      '{"other": 1, "features": [1]}',
      '{"features": [1]',
      '[1',
      '"x"',
      '{}',
      '[1}',
      '{"features": [1]]}',
      '\ufeff[1]',
    ]) {
      expect(await parseBatchJson(text), text).toBeNull();
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
      const got = await parseBatchJson(text);
      if (got === null) continue;
      // A run that does not parse only ever comes from a body that is not JSON; one that does, from JSON.parse's value.
      if (got === 'not json') expect(want, text).toBe('throws');
      else {
        accepted++;
        expect(got, text).toEqual(want);
      }
    }
    // The edits leave many bodies valid: the comparison above is not empty.
    expect(accepted).toBeGreaterThan(100);
  });
});
