import type { Registry } from '../registry/index.js';
import type { StartRunInput } from '../registry/types.js';

export interface TrackedRun {
  id: string;
}

const active = new Map<string, Registry>();

/**
 * Runs `body` inside a registry run: FINISHED with its duration, CPU time and peak memory when it
 * returns, FAILED with the error's message when it throws (the error is rethrown).
 */
export async function tracked<T>(registry: Registry, input: StartRunInput, body: (run: TrackedRun) => Promise<T>): Promise<T> {
  const run = registry.startRun(input);
  const cpu0 = process.cpuUsage();
  active.set(run.id, registry);
  const usage = () => {
    const cpu = process.cpuUsage(cpu0);
    return { cpuTimeMs: Math.round((cpu.user + cpu.system) / 1000), peakRssBytes: process.resourceUsage().maxRSS * 1024 };
  };
  try {
    const result = await body({ id: run.id });
    registry.finishRun(run.id, { status: 'FINISHED', ...usage() });
    return result;
  } catch (err) {
    registry.finishRun(run.id, { status: 'FAILED', error: err instanceof Error ? err.message : String(err), ...usage() });
    throw err;
  } finally {
    active.delete(run.id);
  }
}

/** Marks every run of this process still open as FAILED (on SIGINT/SIGTERM). */
export function failActiveRuns(reason: string): number {
  let n = 0;
  for (const [id, registry] of active) {
    registry.finishRun(id, { status: 'FAILED', error: reason });
    active.delete(id);
    n++;
  }
  return n;
}
