import { describe, expect, it } from 'vitest';
import { batchProgress, searchProgress } from '../../src/commands/progress.js';
import type { CliIO } from '../../src/commands/io.js';
import type { SearchProgress } from '../../src/core/tuning/search.js';

/** Standard error as a terminal or a log, and a clock the test moves. */
function setup(isTTY: boolean) {
  let text = '';
  let t = Date.parse('2026-01-02T03:04:05.000Z');
  const io = { stderr: { write: (s: string) => (text += s), isTTY } } as unknown as CliIO;
  return { io, text: () => text, now: () => t, advance: (ms: number) => (t += ms) };
}

const start: SearchProgress = { done: 0, total: 4, failed: 0, best: null, etaMs: null };
const scored: SearchProgress = {
  done: 1,
  total: 4,
  failed: 0,
  best: 0.61,
  etaMs: 3000,
  last: { index: 0, score: 0.61, ms: 1000 },
};
const failed: SearchProgress = {
  done: 2,
  total: 4,
  failed: 1,
  best: 0.61,
  etaMs: 2000,
  lastFailure: { index: 1, message: 'fold 2 of trial 1: worker exited (code 1)' },
};

describe('searchProgress', () => {
  it('writes a line per settled trial on a log, with failed trials and their reasons', () => {
    const s = setup(false);
    const p = searchProgress(s.io, 'optimize', { now: s.now });
    for (const update of [start, scored, failed]) p.update(update);
    p.end();
    expect(s.text().split('\n')).toEqual([
      '2026-01-02T03:04:05.000Z optimize: trial 0 scored 0.6100 in 1.0 s; trials 1/4  best 0.6100  ~3.0 s left',
      '2026-01-02T03:04:05.000Z optimize: trial 1 failed: fold 2 of trial 1: worker exited (code 1)',
      '',
    ]);
  });

  it('redraws one bar on a terminal, counts failures in it and prints each failure above it', () => {
    const s = setup(true);
    const p = searchProgress(s.io, 'optimize', { now: s.now });
    p.update(scored);
    p.update(failed);
    p.end();
    const bar1 = 'optimize: [######..................] trials 1/4  best 0.6100  ~3.0 s left';
    const bar2 = 'optimize: [############............] trials 2/4 (1 failed)  best 0.6100  ~2.0 s left';
    expect(s.text()).toBe(
      `\r\x1b[2K${bar1}` +
        `\r\x1b[2Koptimize: trial 1 failed: fold 2 of trial 1: worker exited (code 1)\n${bar1}` +
        `\r\x1b[2K${bar2}\n`,
    );
  });
});

describe('batchProgress', () => {
  const at = (rows: number, bytesRead: number) => ({
    rows,
    predicted: rows,
    rejected: 2,
    bytesRead,
    totalBytes: 1000,
    elapsedMs: 0,
  });

  it('redraws at most every 100 ms on a terminal', () => {
    const s = setup(true);
    const p = batchProgress(s.io, { now: s.now });
    p.update(at(10, 100));
    s.advance(50);
    p.update(at(20, 200));
    s.advance(60);
    p.update(at(1500, 500));
    p.end();
    expect(s.text()).toBe(
      '\r\x1b[2Kpredict: [##......................] 10%  10 rows, 2 invalid' +
        '\r\x1b[2Kpredict: [############............] 50%  1,500 rows, 2 invalid\n',
    );
  });

  it('writes nothing for a short run on a log, then a line every 10 s', () => {
    const s = setup(false);
    const p = batchProgress(s.io, { now: s.now });
    p.update(at(10, 100));
    s.advance(9_999);
    p.update(at(20, 200));
    expect(s.text()).toBe('');
    s.advance(1);
    p.update(at(30, 300));
    s.advance(5_000);
    p.update(at(40, 400));
    p.end();
    expect(s.text()).toBe('2026-01-02T03:04:15.000Z predict: 30 rows, 2 invalid (30% of the input read)\n');
  });
});
