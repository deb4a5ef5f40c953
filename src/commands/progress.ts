import type { BatchProgress } from '../core/predict/index.js';
import type { SearchProgress } from '../core/tuning/search.js';
import type { CliIO } from './io.js';
import { formatDuration } from './table.js';

export interface ProgressOptions {
  /** Least time between two redraws (terminal) or two lines (log); a log's first line waits that long too. */
  everyMs?: { tty: number; log: number };
  now?: () => number;
}

export interface Progress {
  /** The bar at `share` (0 to 1) followed by `state`; on a log, `logLine` as a timestamped line (none when null). */
  update(share: number, state: string, logLine: string | null): void;
  /** A line that stays: printed above the bar on a terminal, timestamped in a log. */
  note(text: string): void;
  end(): void;
}

const WIDTH = 24;

/** The one progress component: a redrawn bar on a terminal, timestamped lines otherwise (cron, pipes). */
export function progress(io: CliIO, scope: string, opts: ProgressOptions = {}): Progress {
  const tty = io.stderr.isTTY === true;
  const now = opts.now ?? Date.now;
  const every = tty ? (opts.everyMs?.tty ?? 0) : (opts.everyMs?.log ?? 0);
  // A terminal shows the bar at once; a log gets its first line only for a long run.
  let last = tty ? -Infinity : now();
  let bar = '';
  const stamp = () => new Date(now()).toISOString();
  return {
    update(share, state, logLine) {
      const t = now();
      if (t - last < every) return;
      if (tty) {
        const filled = Math.round(Math.min(1, Math.max(0, share)) * WIDTH);
        bar = `${scope}: [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${state}`;
        io.stderr.write(`\r\x1b[2K${bar}`);
      } else if (logLine !== null) io.stderr.write(`${stamp()} ${scope}: ${logLine}\n`);
      else return;
      last = t;
    },
    note(text) {
      if (!tty) io.stderr.write(`${stamp()} ${scope}: ${text}\n`);
      else io.stderr.write(`\r\x1b[2K${scope}: ${text}\n${bar}`);
    },
    end() {
      if (bar) io.stderr.write('\n');
      bar = '';
    },
  };
}

/** Search progress: trials settled, failed, best score, time left; a failed trial's reason as it fails. */
export function searchProgress(
  io: CliIO,
  scope: string,
  opts: ProgressOptions = {},
): { update(p: SearchProgress): void; end(): void } {
  const view = progress(io, scope, opts);
  const describe = (p: SearchProgress) =>
    [
      `trials ${p.done}/${p.total}${p.failed > 0 ? ` (${p.failed} failed)` : ''}`,
      `best ${p.best === null ? '-' : p.best.toFixed(4)}`,
      p.etaMs === null ? '' : `~${formatDuration(Math.round(p.etaMs))} left`,
    ].join('  ');
  return {
    update(p) {
      if (p.lastFailure) view.note(`trial ${p.lastFailure.index} failed: ${p.lastFailure.message}`);
      const line = p.last
        ? `trial ${p.last.index} scored ${p.last.score.toFixed(4)} in ${formatDuration(p.last.ms)}; ${describe(p)}`
        : null;
      view.update(p.total ? p.done / p.total : 0, describe(p), line);
    },
    end: () => view.end(),
  };
}

const count = (n: number) => n.toLocaleString('en-US');

/** Batch prediction progress: a bar redrawn at most every 100 ms on a terminal, a line every 10 s otherwise. */
export function batchProgress(io: CliIO, opts: ProgressOptions = {}): { update(p: BatchProgress): void; end(): void } {
  const view = progress(io, 'predict', { everyMs: { tty: 100, log: 10_000 }, ...opts });
  return {
    update(p) {
      const share = p.totalBytes > 0 ? Math.min(1, p.bytesRead / p.totalBytes) : 0;
      const state = `${count(p.rows)} rows, ${count(p.rejected)} invalid`;
      const percent = `${(share * 100).toFixed(0)}%`;
      view.update(share, `${percent}  ${state}`, `${state} (${percent} of the input read)`);
    },
    end: () => view.end(),
  };
}
