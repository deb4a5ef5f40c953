import type { SearchProgress } from '../core/tuning/search.js';
import type { CliIO } from './io.js';
import { formatDuration } from './table.js';

/** Search progress: one redrawn bar on a terminal, one timestamped line per finished trial otherwise. */
export function searchProgress(io: CliIO, scope: string): { update(p: SearchProgress): void; end(): void } {
  const tty = io.stderr.isTTY === true;
  let drawn = false;
  const describe = (p: SearchProgress) =>
    `trials ${p.done}/${p.total}  best ${p.best === null ? '-' : p.best.toFixed(4)}  ${p.etaMs === null ? '' : `~${formatDuration(Math.round(p.etaMs))} left`}`;
  return {
    update(p) {
      if (tty) {
        const width = 24;
        const filled = p.total ? Math.round((p.done / p.total) * width) : 0;
        io.stderr.write(`\r\x1b[2K${scope}: [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${describe(p)}`);
        drawn = true;
      } else if (p.last) {
        io.stderr.write(
          `${new Date().toISOString()} ${scope}: trial ${p.last.index} scored ${p.last.score.toFixed(4)} in ${formatDuration(p.last.ms)}; ${describe(p)}\n`,
        );
      }
    },
    end() {
      if (tty && drawn) io.stderr.write('\n');
    },
  };
}
