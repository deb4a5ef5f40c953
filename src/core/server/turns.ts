/**
 * Longest run of batch work between two turns of the event loop, so that /health never waits long behind a
 * batch; long enough that a 1,000-row batch runs in one go (switching between batches more often delays
 * every one of them, and their clients' next requests).
 */
export const SLICE_MS = 10;

/**
 * Batch work runs in slices, one slice per turn of the event loop whatever the number of batches in flight:
 * each waits for its turn here, and requests that arrive meanwhile are read and answered between two slices.
 */
const waiting: Array<() => void> = [];
let scheduled = false;

export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      setImmediate(giveTurn);
    }
  });
}

function giveTurn(): void {
  // One waiter per turn: the slice it runs next (in this turn's microtasks) queues its next turn behind the others.
  waiting.shift()?.();
  if (waiting.length > 0) setImmediate(giveTurn);
  else scheduled = false;
}

export interface TimeSlicer {
  /** True once SLICE_MS of work went by since the last turn. */
  due(): boolean;
  /** Waits for the next turn. */
  pause(): Promise<void>;
}

export function timeSlicer(): TimeSlicer {
  let since = performance.now();
  return {
    due: () => performance.now() - since >= SLICE_MS,
    async pause() {
      await nextTurn();
      since = performance.now();
    },
  };
}
