import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { parseVersion } from '../../src/registry/validate.js';
import { cli, tempDir } from '../helpers/cli.js';

describe('model versions as typed', () => {
  it('are plain whole numbers from 1', () => {
    expect(parseVersion('1')).toBe(1);
    expect(parseVersion('20')).toBe(20);
    for (const text of ['0x2', '1e0', ' 2', '2 ', '-1', '+2', '02', '0', '2.0', '', 'v2', '9007199254740993']) {
      expect(() => parseVersion(text), JSON.stringify(text)).toThrow(UsageError);
    }
    expect(() => parseVersion('0x2')).toThrow(
      "model version '0x2' is not valid; give a whole number from 1, written plainly, e.g. 2",
    );
  });

  it('promote and predict --version refuse anything else with exit 2, before opening the registry', async () => {
    const cwd = tempDir();
    for (const v of ['0x2', '1e0', ' 2', '02', '0']) {
      const r = await cli(['promote', 'Rain_dataset_model_prod', v], {}, cwd);
      expect(r.code, v).toBe(2);
      expect(r.stderr).toBe(
        `rainops: model version '${v}' is not valid; give a whole number from 1, written plainly, e.g. 2\n`,
      );
      const p = await cli(['predict', '--version', v, '--features', '{}'], {}, cwd);
      expect(p.code, v).toBe(2);
      expect(p.stderr).toBe('rainops: predict: --version: expected a version number written plainly, e.g. 2\n');
    }
    expect((await cli(['promote', 'Rain_dataset_model_prod', '--', '-1'], {}, cwd)).code).toBe(2);
    expect(existsSync(join(cwd, '.rainops'))).toBe(false);
  });
});

describe('registry names in flags', () => {
  it('are checked with the registry rule while flags are parsed, before any work', async () => {
    const cwd = tempDir();
    const cases: string[][] = [
      ['optimize', '--name', 'my model'],
      ['retrain', '--name', '../x'],
      ['pipeline', '--name', 'a/b'],
      ['serve', '--model', '-x'],
      ['serve', '--alias', 'prod best'],
      ['predict', '--model', 'a b', '--features', '{}'],
      ['predict', '--alias', 'x\u001b[2J', '--features', '{}'],
      ['promote', 'a b', '1'],
      ['promote', 'M', '1', '--alias', 'a/b'],
      ['rollback', 'M', '--alias', ''],
    ];
    for (const argv of cases) {
      const r = await cli(argv, {}, cwd);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(
        /(model|alias) name '.*' is not valid; start with a letter or digit and use letters, digits and _ \. - \(up to 200 characters\)\n$/s,
      );
    }
    expect((await cli(['optimize', '--name', 'my model'], {}, cwd)).stderr).toBe(
      "rainops: optimize: --name: model name 'my model' is not valid; start with a letter or digit and use letters, digits and _ . - (up to 200 characters)\n",
    );
    // nothing was opened or written for any of them
    expect(existsSync(join(cwd, '.rainops'))).toBe(false);
  });
});
