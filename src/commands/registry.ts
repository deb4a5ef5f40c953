import { Command } from 'commander';
import { loadConfig } from '../core/config.js';
import { migrateRegistry } from '../registry/index.js';
import type { MigrateResult, RegistryStatus } from '../registry/index.js';
import type { CliIO } from './io.js';
import { printResult, withCommon, withReadDeps } from './shared.js';
import type { CommonOptions } from './shared.js';

function describeStatus(s: RegistryStatus): string {
  const c = s.counts;
  const behind = s.schemaVersion < s.latestSchemaVersion ? ` (this rainops has ${s.latestSchemaVersion})` : '';
  return (
    `backend      ${s.backend}\n` +
    `registry     ${s.url}\n` +
    `schema       version ${s.schemaVersion}${behind}\n` +
    `experiments  ${c.experiments}\n` +
    `runs         ${c.runs}\n` +
    `data sets    ${c.datasets}\n` +
    `models       ${c.models}\n` +
    `versions     ${c.versions}\n` +
    `aliases      ${c.aliases}\n`
  );
}

function describeMigration(m: MigrateResult): string {
  if (m.applied.length === 0)
    return `${m.backend} registry ${m.url} is at schema version ${m.toVersion}; nothing to do\n`;
  const steps = m.applied.map((a) => `  ${a.version} ${a.name}\n`).join('');
  return `${m.backend} registry ${m.url}: schema version ${m.fromVersion} -> ${m.toVersion}, applied:\n${steps}`;
}

export function registryCommand(io: CliIO): Command {
  const cmd = new Command('registry').description(
    'the registry database itself: which backend, its schema version, what it holds; apply migrations',
  );
  withCommon(
    cmd
      .command('status')
      .description('backend (sqlite or postgresql), location without credentials, schema version, counts'),
  ).action(async (opts: CommonOptions) => {
    await withReadDeps(io, opts, 'registry', async (deps) => {
      const status = await deps.registry.status();
      printResult(io, opts.json, status, () => describeStatus(status));
    });
  });
  withCommon(
    cmd
      .command('migrate')
      .description('apply the schema migrations this rainops has and the registry lacks (safe with other processes)'),
  ).action(async (opts: CommonOptions) => {
    const config = loadConfig(io.env, io.cwd, opts);
    const result = await migrateRegistry(config.registry);
    printResult(io, opts.json, result, () => describeMigration(result));
  });
  return cmd;
}
