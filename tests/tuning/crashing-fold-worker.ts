/** The real fold worker, except for tasks whose seed asks it to die (see helpers.ts); the pool and search must survive. */
import type { FoldTask } from '../../src/core/tuning/fit-fold.js';
import fitFoldTask from '../../src/core/tuning/fold-worker.js';
import { EXIT_3, QUIET_EXIT, UNCAUGHT } from './helpers.js';

export default function crashingFitFold(task: FoldTask): ReturnType<typeof fitFoldTask> {
  if (task.params.seed === QUIET_EXIT) process.exit(0);
  if (task.params.seed === EXIT_3) process.exit(3);
  if (task.params.seed === UNCAUGHT) {
    setTimeout(() => {
      throw new Error('the engine blew up');
    }, 0);
    return new Promise(() => undefined);
  }
  return fitFoldTask(task);
}
