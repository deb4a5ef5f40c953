import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { openStore } from '../../src/core/store/index.js';
import { createFileStore } from '../../src/core/store/file-store.js';
import { createMemoryStore } from '../../src/core/store/memory-store.js';
import { testStore } from './contract.js';
import { tempDir } from '../helpers/temp.js';

const tempRoot = () => tempDir('rainops-fs-');

testStore('memory', () => createMemoryStore());
testStore('file', () => createFileStore(tempRoot()));

describe('file store', () => {
  it('leaves no temp files behind after writes', async () => {
    const root = tempRoot();
    const store = createFileStore(root);
    await store.put('a/x.txt', 'x');
    expect(readdirSync(join(root, 'a'))).toEqual(['x.txt']);
  });

  it('is opened from file:// URLs, relative ones against cwd', () => {
    const cwd = tempRoot();
    expect(openStore('file://store', { cwd, env: {} }).url).toBe(`file://${join(cwd, 'store')}`);
    expect(openStore(`file://${cwd}/abs`, { cwd: '/', env: {} }).url).toBe(`file://${cwd}/abs`);
    expect(() => openStore('ftp://x', { cwd, env: {} })).toThrow(UsageError);
  });
});
