import { Command } from 'commander';
import type { CliIO } from './io.js';
import { withReadDeps, printJson, withCommon } from './shared.js';
import type { CommonOptions } from './shared.js';
import { table } from './table.js';

export function modelsCommand(io: CliIO): Command {
  const cmd = new Command('models').description('registered models, their versions and aliases');
  withCommon(cmd.command('list').description('every registered model with its latest version and aliases')).action(
    async (opts: CommonOptions) => {
      await withReadDeps(io, opts, 'models', async (deps) => {
        const models = await deps.registry.listModels();
        if (opts.json) return printJson(io, models);
        if (models.length === 0) return void io.stderr.write("no models yet; train one with 'rainops optimize'\n");
        io.stdout.write(
          table(
            ['model', 'latest', 'aliases', 'created'],
            models.map((m) => [
              m.name,
              m.latestVersion,
              Object.entries(m.aliases)
                .map(([a, v]) => `${a}=v${v}`)
                .join(' ') || '-',
              m.createdAt.slice(0, 19),
            ]),
          ),
        );
      });
    },
  );
  withCommon(
    cmd
      .command('show')
      .argument('<model>', 'registered model name')
      .description('versions with their metrics, and the history of alias moves'),
  ).action(async (model: string, opts: CommonOptions) => {
    await withReadDeps(io, opts, 'models', async (deps) => {
      const versions = await deps.registry.listModelVersions(model);
      const history = await deps.registry.aliasHistory(model);
      if (opts.json) return printJson(io, { model, versions, aliasHistory: history });
      const metric = (m: Record<string, number>, k: string) => m[k];
      io.stdout.write(
        `model ${model}\n\n` +
          table(
            [
              'version',
              'status',
              'aliases',
              'engine',
              'test_f1',
              'test_roc_auc',
              'threshold',
              'data set',
              'run',
              'created',
            ],
            versions.map((v) => [
              v.version,
              v.runStatus === 'FAILED' ? 'run failed' : v.status.toLowerCase(),
              v.aliases.join(' ') || '-',
              v.engine,
              metric(v.metrics, 'test_f1'),
              metric(v.metrics, 'test_roc_auc'),
              typeof v.params.threshold === 'number' ? v.params.threshold : null,
              v.datasetId,
              v.runId.slice(0, 12),
              v.createdAt.slice(0, 19),
            ]),
          ) +
          "test_f1 and test_roc_auc: on all test rows of each version's own data set ('rainops retrain' scores champion and\n" +
          "challenger on the newest data set's test rows instead, without the rows the champion trained on)\n" +
          (history.length
            ? '\nalias history\n' +
              table(
                ['time', 'alias', 'from', 'to', 'by', 'why'],
                history.map((h) => [
                  h.time.slice(0, 19),
                  h.alias,
                  h.fromVersion === null ? '-' : `v${h.fromVersion}`,
                  h.toVersion === null ? '-' : `v${h.toVersion}`,
                  h.actor,
                  h.reason,
                ]),
              )
            : ''),
      );
    });
  });
  return cmd;
}
