import type { Registry } from '../registry/index.js';
import type { FinishRunInput, StartRunInput } from '../registry/types.js';

export interface TrackedRun {
  id: string;
}

const active = new Map<string, Registry>();

/** Records a failure unless the run already ended: another process may have failed it (its lease ran out, or its lock was broken). */
async function failQuietly(registry: Registry, runId: string, input: FinishRunInput): Promise<boolean> {
  try {
    await registry.finishRun(runId, input);
    return true;
  } catch {
    // the run is no longer RUNNING (or the registry is gone): the error that brought us here matters more
    return false;
  }
}

/**
 * Runs `body` inside a registry run: FINISHED with its duration, CPU time and peak memory when it
 * returns, FAILED with the error's message when it throws (the error is rethrown). While it runs, the
 * registry renews the run's lease; if another process failed the run meanwhile, finishing it throws.
 */
export async function tracked<T>(
  registry: Registry,
  input: StartRunInput,
  body: (run: TrackedRun) => Promise<T>,
): Promise<T> {
  const run = await registry.startRun(input);
  const cpu0 = process.cpuUsage();
  active.set(run.id, registry);
  const usage = () => {
    const cpu = process.cpuUsage(cpu0);
    return {
      cpuTimeMs: Math.round((cpu.user + cpu.system) / 1000),
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
  };
  let result: T;
  try {
    result = await body({ id: run.id });
  } catch (err) {
    await failQuietly(registry, run.id, {
      status: 'FAILED',
      error: err instanceof Error ? err.message : String(err),
      ...usage(),
    });
    throw err;
  } finally {
    active.delete(run.id);
  }
  await registry.finishRun(run.id, { status: 'FINISHED', ...usage() });
  return result;
}

/** Marks every run of this process still open as FAILED (on SIGINT/SIGTERM). */
export async function failActiveRuns(reason: string): Promise<number> {
  let n = 0;
  for (const [id, registry] of active) {
    if (await failQuietly(registry, id, { status: 'FAILED', error: reason })) n++;
    active.delete(id);
  }
  return n;
}
