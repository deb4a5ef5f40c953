import { hostname, userInfo } from 'node:os';
import type { AliasChange, Registry } from '../registry/index.js';
import { NotFoundError, RainopsError } from './errors.js';

export function cliActor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // Some containers have no passwd entry for the uid; the host name still says where it came from.
  }
  return `${user}@${hostname()}`;
}

/** Points an alias at a version by hand; the move is compare-and-set and recorded in the history. */
export async function promoteVersion(
  registry: Registry,
  args: { model: string; version: number; alias: string; reason?: string | undefined; actor: string },
): Promise<AliasChange> {
  const mv = await registry.getModelVersion(args.model, args.version);
  if (mv.status !== 'READY')
    throw new RainopsError(
      `${args.model} v${args.version} is ${mv.status}, not READY; only a complete version can take an alias`,
    );
  const current = await registry.getAlias(args.model, args.alias);
  return registry.setAlias({
    model: args.model,
    alias: args.alias,
    version: args.version,
    expected: current,
    actor: args.actor,
    reason: args.reason ?? `promoted by hand to v${args.version}`,
  });
}

/** Moves an alias back to the target it had before its latest move. */
export async function rollbackAlias(
  registry: Registry,
  args: { model: string; alias: string; actor: string; reason?: string | undefined },
): Promise<AliasChange> {
  const current = await registry.getAlias(args.model, args.alias);
  if (current === null) throw new NotFoundError(`model ${args.model} has no alias ${args.alias}; nothing to roll back`);
  const previous = await registry.previousAliasTarget(args.model, args.alias);
  if (previous === null)
    throw new NotFoundError(
      `alias ${args.alias} of ${args.model} has pointed only at v${current}; there is no earlier target to roll back to`,
    );
  return registry.setAlias({
    model: args.model,
    alias: args.alias,
    version: previous,
    expected: current,
    actor: args.actor,
    reason: args.reason ?? `rollback from v${current}`,
  });
}
