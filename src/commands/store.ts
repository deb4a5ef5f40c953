import { hostname } from 'node:os';
import { Command } from 'commander';
import { loadConfig } from '../core/config.js';
import { openStore } from '../core/store/index.js';
import { adoptStore, readOwner } from '../core/store/owner.js';
import { openRegistry } from '../registry/index.js';
import type { Registry } from '../registry/index.js';
import type { ArtifactStore } from '../core/store/types.js';
import type { CliIO } from './io.js';
import { printJson, withCommon } from './shared.js';
import type { CommonOptions } from './shared.js';

/** The registry and the store without the ownership guard: these commands inspect and change ownership itself. */
async function withStore<T>(
  io: CliIO,
  opts: CommonOptions,
  fn: (registry: Registry, store: ArtifactStore) => Promise<T>,
): Promise<T> {
  const config = loadConfig(io.env, io.cwd, opts);
  const registry = await openRegistry(config.registry);
  try {
    return await fn(registry, openStore(config.store, { cwd: io.cwd, env: io.env }));
  } finally {
    await registry.close();
  }
}

export function storeCommand(io: CliIO): Command {
  const cmd = new Command('store').description('which registry owns the artifact store; take a store over');
  withCommon(cmd.command('show').description("the store's owner and this registry's id")).action(
    async (opts: CommonOptions) => {
      await withStore(io, opts, async (registry, store) => {
        const owner = await readOwner(store);
        const id = await registry.registryId();
        const result = {
          store: store.url,
          registry: registry.file,
          registry_id: id,
          owner,
          owned: owner?.registry_id === id,
        };
        if (opts.json) return printJson(io, result);
        io.stdout.write(
          `store     ${store.url}\nregistry  ${registry.file} (id ${id})\n` +
            (owner
              ? `owner     registry ${owner.registry_id} (${owner.registry} on ${owner.hostname}, since ${owner.claimed_at})${result.owned ? ': this registry' : ': ANOTHER registry'}\n`
              : 'owner     none yet (the first writing command claims it)\n'),
        );
      });
    },
  );
  withCommon(
    cmd
      .command('adopt')
      .description('make this registry the owner of the store, whoever owned it before')
      .addHelpText(
        'after',
        "\nOnly when the registry that owned the store is gone for good: afterwards 'rainops gc' treats the data sets and bundles\nthis registry does not know as unregistered, and removes them once they are older than the grace period.",
      ),
  ).action(async (opts: CommonOptions) => {
    await withStore(io, opts, async (registry, store) => {
      const r = await adoptStore(store, { registry, hostname: hostname(), now: () => new Date() });
      if (opts.json)
        return printJson(io, {
          store: store.url,
          owner: r.owner,
          previous_owner: r.previous,
          unknown_to_this_registry: r.foreign,
        });
      io.stdout.write(
        `registry ${r.owner.registry_id} (${registry.file}) now owns ${store.url}${r.previous ? `; it belonged to registry ${r.previous.registry_id} (${r.previous.registry})` : ''}\n`,
      );
      if (r.foreign.length) {
        io.stderr.write(
          `warning: ${r.foreign.length} data set(s) or bundle(s) there are unknown to this registry (${r.foreign.slice(0, 3).join(', ')}${r.foreign.length > 3 ? ', ...' : ''}); 'rainops gc' will remove them once they are older than its grace period\n`,
        );
      }
    });
  });
  return cmd;
}
