import { NotFoundError } from '../errors.js';
import { isoNow } from './context.js';
import type { RegistryContext } from './context.js';
import type { Experiment, ExperimentSummary } from './types.js';
import { checkNonEmpty, shortList } from './validate.js';

interface ExperimentRow {
  id: number;
  name: string;
  created_at: string;
}

function toExperiment(row: ExperimentRow): Experiment {
  return { id: row.id, name: row.name, createdAt: row.created_at };
}

export function getOrCreateExperiment(ctx: RegistryContext, name: string): Experiment {
  checkNonEmpty('experiment name', name);
  // INSERT OR IGNORE keeps two processes creating the same experiment from colliding
  ctx.stmt('INSERT OR IGNORE INTO experiments (name, created_at) VALUES (?, ?)').run(name, isoNow(ctx));
  const row = ctx.stmt<ExperimentRow>('SELECT id, name, created_at FROM experiments WHERE name = ?').get(name);
  if (!row) throw new Error(`experiment ${name} vanished right after it was created`);
  return toExperiment(row);
}

export function findExperiment(ctx: RegistryContext, name: string): Experiment {
  const row = ctx.stmt<ExperimentRow>('SELECT id, name, created_at FROM experiments WHERE name = ?').get(name);
  if (row) return toExperiment(row);
  const known = listExperiments(ctx).map((e) => `'${e.name}'`);
  const hint = known.length > 0 ? `known experiments: ${shortList(known)}` : 'no experiment exists yet';
  throw new NotFoundError(`experiment '${name}' not found; ${hint}`);
}

export function listExperiments(ctx: RegistryContext): ExperimentSummary[] {
  const rows = ctx
    .stmt<ExperimentRow & { run_count: number }>(
      `SELECT e.id, e.name, e.created_at, (SELECT count(*) FROM runs r WHERE r.experiment_id = e.id) AS run_count
       FROM experiments e ORDER BY e.name`,
    )
    .all();
  return rows.map((row) => ({ ...toExperiment(row), runCount: row.run_count }));
}
