import { Command } from 'commander';
import { cliActor, promoteVersion, rollbackAlias } from '../core/aliases.js';
import { CHAMPION_ALIAS } from '../core/context.js';
import type { AliasChange } from '../registry/index.js';
import type { CliIO } from './io.js';
import { checkName, parseVersion } from '../registry/validate.js';
import { withDeps, printResult, withCommon } from './shared.js';
import type { CommonOptions } from './shared.js';

const describe = (c: AliasChange) =>
  c.changed
    ? `${c.model}@${c.alias}: ${c.fromVersion === null ? 'unset' : `v${c.fromVersion}`} -> v${c.toVersion}\n`
    : `${c.model}@${c.alias} already points at v${c.toVersion}; nothing changed\n`;

export function promoteCommand(io: CliIO): Command {
  const cmd = new Command('promote')
    .description('point an alias (default prod_best) at a model version; recorded in the alias history')
    .argument('<model>', 'registered model name, e.g. Rain_dataset_model_prod')
    .argument('<version>', 'version number')
    .option('--alias <name>', 'alias to move', CHAMPION_ALIAS)
    .option('--reason <text>', 'why, kept in the alias history');
  withCommon(cmd).action(
    async (model: string, version: string, raw: CommonOptions & { alias: string; reason?: string }) => {
      const v = parseVersion(version);
      checkName('model', model);
      checkName('alias', raw.alias);
      await withDeps(io, raw, 'promote', async (deps) => {
        const change = await promoteVersion(deps.registry, {
          model,
          version: v,
          alias: raw.alias,
          reason: raw.reason,
          actor: cliActor(),
        });
        printResult(io, raw.json, change, () => describe(change));
      });
    },
  );
  return cmd;
}

export function rollbackCommand(io: CliIO): Command {
  const cmd = new Command('rollback')
    .description('move an alias (default prod_best) back to its previous target; recorded in the alias history')
    .argument('<model>', 'registered model name')
    .option('--alias <name>', 'alias to move back', CHAMPION_ALIAS)
    .option('--reason <text>', 'why, kept in the alias history');
  withCommon(cmd).action(async (model: string, raw: CommonOptions & { alias: string; reason?: string }) => {
    checkName('model', model);
    checkName('alias', raw.alias);
    await withDeps(io, raw, 'rollback', async (deps) => {
      const change = await rollbackAlias(deps.registry, {
        model,
        alias: raw.alias,
        reason: raw.reason,
        actor: cliActor(),
      });
      printResult(io, raw.json, change, () => describe(change));
    });
  });
  return cmd;
}
