import { Command } from 'commander';
import { z } from 'zod';
import { gc } from '../core/gc.js';
import type { GcResult } from '../core/gc.js';
import type { CliIO } from './io.js';
import { parseOptions, printJson, withCommon, withDeps } from './shared.js';
import type { CommonOptions } from './shared.js';
import { formatBytes, table } from './table.js';

const GcFlags = z.object({
  dryRun: z.boolean(),
  grace: z
    .string()
    .trim()
    .min(1, { error: 'expected a number of hours' })
    .pipe(
      z.coerce
        .number<string>({ error: 'expected a number of hours' })
        .min(0, { error: 'expected a number of hours, 0 or more' })
        .finite({ error: 'expected a number of hours' }),
    ),
});

export function gcCommand(io: CliIO): Command {
  const cmd = new Command('gc')
    .description(
      'remove unpublished staging, unregistered data sets and unregistered model bundles older than a grace period',
    )
    .option('--dry-run', 'list what would be removed; remove nothing', false)
    .option('--grace <hours>', 'keep anything written more recently than this many hours', '24')
    .addHelpText('after', '\nExamples:\n  rainops gc --dry-run\n  rainops gc --grace 1 --json');
  withCommon(cmd).action(async (raw: CommonOptions & { dryRun: boolean; grace: string }) => {
    const flags = parseOptions(GcFlags, raw, 'gc');
    await withDeps(io, raw, 'gc', async (deps) => {
      const result = await gc({ dryRun: flags.dryRun, graceHours: flags.grace }, deps);
      if (raw.json) printJson(io, result);
      else describeGc(io, result);
    });
  });
  return cmd;
}

function describeGc(io: CliIO, r: GcResult): void {
  const verb = r.dry_run ? 'would remove' : 'removed';
  if (r.removed.length > 0) {
    io.stdout.write(
      table(
        ['kind', 'prefix', 'objects', 'size', 'age (h)', 'why'],
        r.removed.map((i) => [i.kind, i.prefix, i.objects, formatBytes(i.bytes), i.age_hours, i.reason]),
      ),
    );
  }
  const kept = r.kept.length
    ? `; kept ${r.kept.length} younger than ${r.grace_hours} h or still in use by a running run`
    : '';
  io.stdout.write(`${verb} ${r.removed.length} item(s), ${formatBytes(r.bytes_removed)} from ${r.store}${kept}\n`);
}
