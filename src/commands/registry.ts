import { Command } from 'commander';
import { loadConfig } from '../core/config.js';
import { z } from 'zod';
import { RainopsError } from '../errors.js';
import { copyRegistry, migrateRegistry } from '../registry/index.js';
import type { CopyResult, MigrateResult, RegistryStatus } from '../registry/index.js';
import type { CliIO } from './io.js';
import { parseOptions, printResult, withCommon, withReadDeps } from './shared.js';
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

function describeCopy(r: CopyResult): string {
  const head = `${'kind'.padEnd(14)}${'source'.padStart(8)}${'target'.padStart(8)}${'copied'.padStart(8)}${'missing'.padStart(9)}\n`;
  const lines = r.counts.map(
    (c) =>
      `${c.kind.padEnd(14)}${String(c.source).padStart(8)}${String(c.target).padStart(8)}${String(c.copied).padStart(8)}${String(c.missing).padStart(9)}\n`,
  );
  const verdict = r.verified
    ? 'verified: the target holds every row of the source\n'
    : 'NOT verified: the target lacks rows of the source (see missing)\n';
  return `copied ${r.copied} rows from ${r.from.backend} ${r.from.url} to ${r.to.backend} ${r.to.url}\n${head}${lines.join('')}${verdict}`;
}

const CopyOptions = z.object({
  from: z
    .string({ message: 'is required: the registry to copy from (sqlite://PATH, a path, or postgres://...)' })
    .min(1),
  to: z.string({ message: 'is required: the registry to copy into (sqlite://PATH, a path, or postgres://...)' }).min(1),
});

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
  withCommon(
    cmd
      .command('copy')
      .description(
        'copy runs, data sets, models, versions, aliases and their history from one registry to another; idempotent, verified by counts',
      )
      .option('--from <url>', 'the registry to read: sqlite://PATH, a path, or postgres://USER@HOST:PORT/DB')
      .option('--to <url>', 'the registry to write (migrated first): sqlite://PATH, a path, or postgres://...'),
  ).action(async (opts: CommonOptions & { from?: string; to?: string }) => {
    const { from, to } = parseOptions(CopyOptions, opts, 'registry copy');
    const result = await copyRegistry(from, to);
    printResult(io, opts.json, result, () => describeCopy(result));
    if (!result.verified) {
      const short = result.counts.filter((c) => c.missing > 0).map((c) => `${c.missing} ${c.kind}`);
      throw new RainopsError(
        `the copy is incomplete: ${result.to.url} lacks ${short.join(', ')} of the source; run the copy again, and if it stays incomplete check the target database`,
      );
    }
  });
  return cmd;
}
