import { Command } from 'commander';
import { z } from 'zod';
import type { LockInfo } from '../registry/index.js';
import type { CliIO } from './io.js';
import { parseOptions, printJson, withCommon, withDeps, withReadDeps } from './shared.js';
import type { CommonOptions } from './shared.js';
import { table } from './table.js';

const BreakFlags = z.object({
  reason: z.string().trim().min(1, { error: 'give a reason, or leave the flag out' }).optional(),
});

const time = (iso: string | null) => (iso === null ? '-' : iso.slice(0, 19).replace('T', ' '));

function state(lock: LockInfo): string {
  return lock.stale ? `stale: ${lock.staleReason ?? ''}` : 'held';
}

export function locksCommand(io: CliIO): Command {
  const cmd = new Command('locks').description(
    'locks that keep two trainings of a model apart: who holds them, and breaking one by hand',
  );
  withCommon(
    cmd
      .command('list')
      .description('every lock with its holder, run, heartbeat and lease (stale: the next command takes it)'),
  ).action(async (opts: CommonOptions) => {
    await withReadDeps(io, opts, 'locks', async (deps) => {
      const locks = await deps.registry.listLocks();
      if (opts.json) return printJson(io, locks);
      if (locks.length === 0) return void io.stderr.write('no locks are held\n');
      io.stdout.write(
        table(
          ['lock', 'holder', 'run', 'acquired', 'heartbeat', 'expires', 'state'],
          locks.map((l) => [
            l.name,
            `pid ${l.ownerPid} on ${l.hostname}`,
            l.runId?.slice(0, 12),
            time(l.acquiredAt),
            time(l.heartbeatAt),
            time(l.leaseExpiresAt),
            state(l),
          ]),
        ),
      );
    });
  });
  withCommon(
    cmd
      .command('break')
      .argument('<name>', "the lock's name, as 'rainops locks list' shows it")
      .option('--reason <text>', 'why, recorded on the run that held it')
      .description('remove a lock whoever holds it; its RUNNING run is marked FAILED with who broke it and why')
      .addHelpText(
        'after',
        '\nA lock whose holder died frees itself once its lease runs out (RAINOPS_LEASE_SECONDS, default 30).\n\nExample:\n  rainops locks break model:Rain_dataset_model_prod --reason "container was killed"',
      ),
  ).action(async (name: string, raw: Record<string, unknown> & CommonOptions) => {
    const f = parseOptions(BreakFlags, raw, 'locks break');
    await withDeps(io, raw, 'locks', async (deps) => {
      const broken = await deps.registry.breakLock(name, f.reason === undefined ? {} : { reason: f.reason });
      const { lock } = broken;
      if (!lock.stale) {
        deps.logger.warn(
          `its holder's heartbeat was current (last at ${lock.heartbeatAt ?? 'unknown'}); if that process still works, its run ends FAILED and the next training may overlap it`,
        );
      }
      if (raw.json) return printJson(io, broken);
      const run = broken.runId ? `, run ${broken.runId}` : '';
      io.stdout.write(
        `broke lock ${lock.name} (held by pid ${lock.ownerPid} on ${lock.hostname}${run} since ${lock.acquiredAt})\n`,
      );
      if (broken.runId)
        io.stdout.write(
          broken.runFailed
            ? `run ${broken.runId} marked FAILED: ${broken.note}\n`
            : `run ${broken.runId} had already ended; tagged lock_broken\n`,
        );
    });
  });
  return cmd;
}
