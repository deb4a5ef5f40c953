import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { UsageError } from '../../src/core/errors.js';
import { cli, tempDir } from '../helpers/cli.js';

describe('loadConfig', () => {
  it('defaults the home under the working folder and the store inside the home, as a file URL', () => {
    expect(loadConfig({}, '/work')).toEqual({
      home: '/work/.rainops',
      store: 'file:///work/.rainops/store',
      registry: { backend: 'sqlite', file: '/work/.rainops/registry.db' },
      source: undefined,
      leaseSeconds: undefined,
    });
    // a folder name with URL characters stays one path
    expect(loadConfig({}, '/w/a #1?%').store).toBe('file:///w/a%20%231%3F%25/.rainops/store');
    expect(loadConfig({ RAINOPS_HOME: 'h', RAINOPS_STORE: 's3://b/p' }, '/w')).toMatchObject({
      home: '/w/h',
      store: 's3://b/p',
    });
    expect(loadConfig({ RAINOPS_HOME: '/env' }, '/w', { home: 'flag' })).toMatchObject({ home: '/w/flag' });
  });

  it('counts an empty variable as unset', () => {
    expect(loadConfig({ RAINOPS_HOME: '', RAINOPS_STORE: '', RAINOPS_SOURCE: '', RAINOPS_REGISTRY: '' }, '/w')).toEqual(
      {
        home: '/w/.rainops',
        store: 'file:///w/.rainops/store',
        registry: { backend: 'sqlite', file: '/w/.rainops/registry.db' },
        source: undefined,
        leaseSeconds: undefined,
      },
    );
  });

  it('refuses an empty --home and a file store URL that is not an absolute path', () => {
    for (const home of ['', '  ']) {
      expect(() => loadConfig({}, '/w', { home })).toThrow(UsageError);
      expect(() => loadConfig({}, '/w', { home })).toThrow(
        'config: --home is empty; give the folder for the registry and store',
      );
    }
    for (const store of ['file://relative/path', 'file://host/x', 'file:///x?y', 'file:///x#y', '', 'ftp://x']) {
      expect(() => loadConfig({}, '/w', { store }), store).toThrow(UsageError);
    }
    expect(() => loadConfig({ RAINOPS_STORE: 'file://relative/path' }, '/w')).toThrow(
      "store: file://relative/path names the host 'relative'",
    );
  });

  it('is a usage error (exit 2) on the command line, before any work', async () => {
    const cwd = tempDir();
    const home = await cli(['runs', 'list', '--home', ''], {}, cwd);
    expect(home.code).toBe(2);
    expect(home.stderr).toBe(
      'rainops: config: --home is empty; give the folder for the registry and store, e.g. --home ./.rainops, or leave the flag out\n',
    );
    const store = await cli(['runs', 'list', '--store', 'file://relative/store'], {}, cwd);
    expect(store.code).toBe(2);
    expect(store.stderr).toMatch(/^rainops: store: file:\/\/relative\/store names the host 'relative'/);
    expect(existsSync(join(cwd, '.rainops'))).toBe(false);
  });
});
