import { sql } from 'kysely';
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

const byName = (name: string) => sql<ExperimentRow>`SELECT id, name, created_at FROM experiments WHERE name = ${name}`;

export async function getOrCreateExperiment(ctx: RegistryContext, name: string): Promise<Experiment> {
  checkNonEmpty('experiment name', name);
  // ON CONFLICT DO NOTHING keeps two processes creating the same experiment from colliding
  await ctx.run(
    sql`INSERT INTO experiments (name, created_at) VALUES (${name}, ${isoNow(ctx)}) ON CONFLICT (name) DO NOTHING`,
  );
  const row = await ctx.one(byName(name));
  if (!row) throw new Error(`experiment ${name} vanished right after it was created`);
  return toExperiment(row);
}

export async function findExperiment(ctx: RegistryContext, name: string): Promise<Experiment> {
  const row = await ctx.one(byName(name));
  if (row) return toExperiment(row);
  const known = (await listExperiments(ctx)).map((e) => `'${e.name}'`);
  const hint = known.length > 0 ? `known experiments: ${shortList(known)}` : 'no experiment exists yet';
  throw new NotFoundError(`experiment '${name}' not found; ${hint}`);
}

export async function listExperiments(ctx: RegistryContext): Promise<ExperimentSummary[]> {
  const rows = await ctx.all(
    sql<ExperimentRow & { run_count: number }>`SELECT e.id, e.name, e.created_at,
       (SELECT count(*) FROM runs r WHERE r.experiment_id = e.id) AS run_count
     FROM experiments e ORDER BY e.name`,
  );
  return rows.map((row) => ({ ...toExperiment(row), runCount: row.run_count }));
}
