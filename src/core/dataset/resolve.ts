import type { Dataset } from '../../registry/index.js';
import type { CoreDeps } from '../context.js';
import { NotFoundError } from '../errors.js';

/** The data set named by --dataset, or the newest one. */
export async function resolveDataset(deps: CoreDeps, id: string | undefined): Promise<Dataset> {
  if (id) return await deps.registry.getDataset(id);
  const newest = await deps.registry.newestDataset();
  if (!newest) throw new NotFoundError("no data set yet; create one with 'rainops etl --source weatherAUS.csv'");
  return newest;
}
