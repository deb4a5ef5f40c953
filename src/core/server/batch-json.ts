/** Bytes of rows parsed in one go: a millisecond or so of JSON.parse. */
const RUN_BYTES = 128 * 1024;

const WRAPPED_START = /^[ \n\r\t]*\{[ \n\r\t]*"features"[ \n\r\t]*:[ \n\r\t]*\[/;
const WRAPPED_END = /\][ \n\r\t]*\}[ \n\r\t]*$/;
const BARE_START = /^[ \n\r\t]*\[/;
const BARE_END = /\][ \n\r\t]*$/;
/** Between two objects of the rows array: where a run may end and the next begin. */
const BETWEEN_OBJECTS = /\}[ \n\r\t]*,[ \n\r\t]*\{/g;

/** A batch body cut into runs of rows, each parsed only when asked for. */
export interface CutBatch {
  /** True for `{"features": [...]}`, false for a bare array. */
  wrapped: boolean;
  /** Each run's rows, parsed on call; null when the run does not parse (then parse the body whole). */
  runs: Array<() => unknown[] | null>;
}

/**
 * Cuts a batch body (`{"features": [...]}` or a bare array) into runs of rows, so that megabytes of JSON
 * are parsed (and their rows checked) a run at a time instead of in one go. A run ends where one object of
 * the rows array closes and the next opens (`},{`), near RUN_BYTES. Such a cut may fall inside a string
 * that holds `},{`; the run then does not parse (JSON cannot end inside a string), and neither does a run
 * of a body that is not JSON. When every run parses, the body is JSON and its rows are the runs' rows, in
 * order: each run is a list of whole values, and the cuts are commas between them. A body of another
 * shape gives null, for the caller to parse whole.
 */
export function cutBatchJson(text: string): CutBatch | null {
  let from: number;
  let to: number;
  let wrapped: boolean;
  const head = WRAPPED_START.exec(text);
  if (head) {
    const tail = WRAPPED_END.exec(text);
    if (!tail) return null;
    [from, to, wrapped] = [head[0].length, tail.index, true];
  } else {
    const bare = BARE_START.exec(text);
    const tail = bare && BARE_END.exec(text);
    if (!bare || !tail) return null;
    [from, to, wrapped] = [bare[0].length, tail.index, false];
  }
  if (to < from) return null;

  const runs: CutBatch['runs'] = [];
  const between = new RegExp(BETWEEN_OBJECTS);
  let start = from;
  while (start <= to) {
    between.lastIndex = Math.min(start + RUN_BYTES, to);
    const cut = start + RUN_BYTES < to ? between.exec(text) : null;
    // The run ends after the `}`; the next starts at the `{` (the comma between them is the array's).
    const end = cut && cut.index < to ? cut.index + 1 : to;
    const [a, b] = [start, end];
    runs.push(() => {
      try {
        const rows = JSON.parse(`[${text.slice(a, b)}]`) as unknown;
        return Array.isArray(rows) ? rows : null;
      } catch {
        return null;
      }
    });
    if (end === to) break;
    start = cut!.index + cut![0].length - 1;
  }
  return { wrapped, runs };
}
