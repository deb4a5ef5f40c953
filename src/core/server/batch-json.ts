import type { TimeSlicer } from './turns.js';

/** Bytes of rows parsed in one go: a few milliseconds of JSON.parse. */
const RUN_BYTES = 128 * 1024;
/** Characters scanned between two looks at the clock. */
const SCAN_STEP = 64 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const ENVELOPE = /^[ \n\r\t]*\{[ \n\r\t]*"features"[ \n\r\t]*:[ \n\r\t]*\[/;

/** A batch body cut into runs of rows, each parsed only when asked for. */
export interface CutBatch {
  /** True for `{"features": [...]}`, false for a bare array. */
  wrapped: boolean;
  /** Rows in the array. */
  count: number;
  /** Each run's rows, parsed on call; null when a run is not JSON (the body is not, then). */
  runs: Array<() => unknown[] | null>;
}

/**
 * Cuts a batch body (`{"features": [...]}` or a bare array) into runs of rows without parsing it, so that
 * megabytes of JSON are parsed (and their rows checked) a slice at a time instead of in one go: the rows
 * array is cut at its top-level commas, found by a scan that knows strings and nesting, and pauses on the
 * way. A body this cannot cut cleanly (another shape, an empty element, anything after the array) gives
 * null, for the caller to parse whole. When the body is JSON, the runs' rows are exactly JSON.parse's.
 */
export async function cutBatchJson(text: string, slice: TimeSlicer): Promise<CutBatch | null> {
  let start: number;
  let wrapped: boolean;
  const envelope = ENVELOPE.exec(text);
  if (envelope) {
    start = envelope[0].length;
    wrapped = true;
  } else {
    start = 0;
    while (start < text.length && isSpace(text.charCodeAt(start))) start++;
    if (text.charCodeAt(start) !== OPEN_BRACKET) return null;
    start++;
    wrapped = false;
  }

  // Where each element ends (the index of the comma or of the closing bracket after it).
  const ends: number[] = [];
  let depth = 0;
  let inString = false;
  let elementHasText = false;
  let end = -1;
  for (let i = start; i < text.length && end < 0; i++) {
    if ((i - start) % SCAN_STEP === 0 && slice.due()) await slice.pause();
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) {
      inString = true;
      elementHasText = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      elementHasText = true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth > 0) depth--;
      else if (c === CLOSE_BRACE) return null;
      else {
        // The rows array ends; `[]` has no element, `[1,]` an empty one (not JSON).
        if (elementHasText) ends.push(i);
        else if (ends.length > 0) return null;
        end = i;
      }
    } else if (c === COMMA && depth === 0) {
      if (!elementHasText) return null;
      ends.push(i);
      elementHasText = false;
    } else if (!isSpace(c)) elementHasText = true;
  }
  if (end < 0) return null;
  if (!(wrapped ? /^[ \n\r\t]*\}[ \n\r\t]*$/ : /^[ \n\r\t]*$/).test(text.slice(end + 1))) return null;

  const runs: CutBatch['runs'] = [];
  let runStart = start;
  for (let k = 0; k < ends.length; ) {
    // A run: elements up to about RUN_BYTES, ending at an element's end.
    let j = k;
    while (j + 1 < ends.length && ends[j + 1]! - runStart < RUN_BYTES) j++;
    const [from, to, rows] = [runStart, ends[j]!, j - k + 1];
    runs.push(() => {
      try {
        const parsed = JSON.parse(`[${text.slice(from, to)}]`) as unknown;
        return Array.isArray(parsed) && parsed.length === rows ? parsed : null;
      } catch {
        return null;
      }
    });
    runStart = to + 1;
    k = j + 1;
  }
  return { wrapped, count: ends.length, runs };
}
