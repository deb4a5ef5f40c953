import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { printable, table } from '../../src/commands/table.js';
import { SHA_A, open, seedRunAndDataset, tempDir } from '../registry/helpers.js';
import { cli } from '../helpers/cli.js';

const HOSTILE = 'moved\nby hand\r\t\x1b[2J\x1b]0;pwned\x07 \u202egnp.exe \x7f\x9b done';
const SHOWN = 'moved\\nby hand\\r\\t\\x1b[2J\\x1b]0;pwned\\x07 \\u202egnp.exe \\x7f\\x9b done';

describe('printable', () => {
  it('escapes control characters and bidi overrides, and leaves other text alone', async () => {
    expect(printable(HOSTILE)).toBe(SHOWN);
    expect(printable('Sydnéy 東京 ✓ C:\\path')).toBe('Sydnéy 東京 ✓ C:\\path');
  });

  it('keeps tables one line per row', async () => {
    expect(table(['why'], [['a\nb'], ['c']])).toBe('why\na\\nb\nc\n');
  });
});

describe('user text in human output', () => {
  it('is stored as given and printed escaped by models show, runs list and runs show', async () => {
    const cwd = tempDir();
    const registry = await open(join(cwd, '.rainops', 'registry.db'));
    const ids = await seedRunAndDataset(registry);
    await registry.setTags(ids.runId, { note: HOSTILE });
    const named = (await registry.startRun({ experiment: 'Rain Dataset', name: `evil\x1b[31m\nname` })).id;
    await registry.finishRun(named, { status: 'FAILED', error: 'boom\n\x1b[0m' });
    await registry.createModelVersion({
      model: 'M',
      runId: ids.runId,
      datasetId: ids.datasetId,
      bundleUri: 'file:///s/m/1',
      bundleSha256: SHA_A,
      engine: 'wasm',
      params: {},
      metrics: { test_f1: 0.7 },
    });
    await registry.close();

    const promote = await cli(['promote', 'M', '1', '--reason', HOSTILE, '--json'], {}, cwd);
    expect(promote.code, promote.stderr).toBe(0);
    const stored = await (await open(join(cwd, '.rainops', 'registry.db'))).aliasHistory('M');
    expect(stored.at(-1)!.reason).toBe(HOSTILE);

    const show = await cli(['models', 'show', 'M'], {}, cwd);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(SHOWN);
    expect(show.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
    // JSON keeps the text exactly (under alias_history once --json keys are snake_case)
    const doc = JSON.parse((await cli(['models', 'show', 'M', '--json'], {}, cwd)).stdout) as Record<
      string,
      Array<{ reason: string }>
    >;
    expect((doc.alias_history ?? doc.aliasHistory)!.at(-1)!.reason).toBe(HOSTILE);

    const list = await cli(['runs', 'list'], {}, cwd);
    expect(list.stdout).toContain('evil\\x1b[31m\\nname');
    expect(list.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    const run = await cli(['runs', 'show', named], {}, cwd);
    expect(run.stdout).toContain(`run ${named}  evil\\x1b[31m\\nname  (Rain Dataset)`);
    expect(run.stdout).toContain('status    FAILED: boom\\n\\x1b[0m');
    const tagged = await cli(['runs', 'show', ids.runId], {}, cwd);
    expect(tagged.stdout).toContain(SHOWN);
    expect(tagged.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
  });
});
