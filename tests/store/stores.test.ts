import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { openStore } from '../../src/core/store/index.js';
import { createFileStore } from '../../src/core/store/file-store.js';
import { createMemoryStore } from '../../src/core/store/memory-store.js';
import { testStore } from './contract.js';

const tempRoot = () => mkdtempSync(join(tmpdir(), 'rainops-fs-'));

testStore('memory', () => createMemoryStore());
testStore('file', () => createFileStore(tempRoot()));

describe('file store', () => {
  it('leaves no temp files behind after writes', async () => {
    const root = tempRoot();
    const store = createFileStore(root);
    await store.put('a/x.txt', 'x');
    expect(readdirSync(join(root, 'a'))).toEqual(['x.txt']);
  });

  it('is opened from absolute file:// URLs, percent escapes decoded', () => {
    const cwd = tempRoot();
    expect(openStore(`file://${cwd}/abs`, { cwd: '/', env: {} }).url).toBe(`file://${cwd}/abs`);
    expect(openStore(`file://localhost${cwd}/abs`, { cwd: '/', env: {} }).url).toBe(`file://${cwd}/abs`);
    expect(openStore(`file://${cwd}/a%20b%23c`, { cwd: '/', env: {} }).url).toBe(`file://${cwd}/a b#c`);
    expect(() => openStore('ftp://x', { cwd, env: {} })).toThrow(UsageError);
  });

  it('refuses file:// URLs with a host, a relative path, a query or a fragment, or a bad escape', () => {
    const cases: Array<[string, string]> = [
      ['file://host/x', "names the host 'host' (a relative path reads as one)"],
      ['file://relative/path', "names the host 'relative' (a relative path reads as one)"],
      ['file:///srv/store?mode=ro', 'has a query'],
      ['file:///srv/store#v2', 'has a fragment'],
      ['file://', 'names no folder'],
      ['file:///srv/100%', 'has an escape that does not decode to a path'],
      ['file:///srv/a%2Fb', 'has an escape that does not decode to a path'],
      ['file:relative', 'names no folder'],
    ];
    for (const [url, why] of cases) {
      expect(() => openStore(url, { cwd: '/', env: {} }), url).toThrow(UsageError);
      expect(() => openStore(url, { cwd: '/', env: {} }), url).toThrow(`store: ${url} ${why}; write file:// then an absolute path`);
    }
  });
});
