import { Command } from 'commander';
import type { CliIO } from './io.js';
import { withReadDeps, printJson, withCommon } from './shared.js';
import type { CommonOptions } from './shared.js';
import { printable, table } from './table.js';

export function datasetsCommand(io: CliIO): Command {
  const cmd = new Command('datasets').description('list and inspect data set versions written by etl');
  withCommon(cmd.command('list').description('every data set version, newest first')).action(
    async (opts: CommonOptions) => {
      await withReadDeps(io, opts, 'datasets', async (deps) => {
        const all = await deps.registry.listDatasets();
        if (opts.json) return printJson(io, all);
        if (all.length === 0)
          return void io.stderr.write("no data sets yet; create one with 'rainops etl --source weatherAUS.csv'\n");
        io.stdout.write(
          table(
            ['id', 'created', 'train', 'test', 'rejected', 'split', 'source'],
            all.map((d) => [
              d.id,
              d.createdAt.slice(0, 19),
              d.rows.train,
              d.rows.test,
              d.rows.rejected,
              splitText(d.split),
              d.source,
            ]),
          ),
        );
      });
    },
  );
  withCommon(
    cmd
      .command('show')
      .argument('<id>', 'data set id or a unique prefix')
      .description('one data set: rows, split, files and the runs that used it'),
  ).action(async (id: string, opts: CommonOptions) => {
    await withReadDeps(io, opts, 'datasets', async (deps) => {
      const d = await deps.registry.getDataset(id);
      const runs = await deps.registry.runsForDataset(d.id);
      const manifest = JSON.parse((await deps.store.get(`datasets/${d.id}/manifest.json`)).toString('utf8')) as {
        files: Record<string, { size: number; sha256: string }>;
      };
      if (opts.json) return printJson(io, { ...d, files: manifest.files, runs });
      io.stdout.write(
        `data set ${d.id}\n  created  ${d.createdAt}\n  source   ${printable(d.source)}\n  sha256   ${d.sourceSha256}\n  split    ${splitText(d.split)}\n  stored   ${d.uri}\n\n` +
          table(
            ['rows', 'count'],
            Object.entries(d.rows).map(([k, v]) => [k, v]),
          ) +
          '\n' +
          table(
            ['file', 'bytes', 'sha256'],
            Object.entries(manifest.files).map(([k, f]) => [k, f.size, f.sha256.slice(0, 16)]),
          ) +
          '\n' +
          table(
            ['run', 'name', 'role', 'status', 'started'],
            runs.map((r) => [r.id.slice(0, 12), r.name, r.role, r.status, r.startTime.slice(0, 19)]),
          ),
      );
    });
  });
  return cmd;
}

function splitText(split: Record<string, unknown>): string {
  const until = split.until ? ` until ${String(split.until)}` : '';
  return `${String(split.method)} ${String(split.testSize)} seed ${String(split.seed)}${until}`;
}
