import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RainopsError } from '../../src/core/errors.js';
import { openDatabase } from '../../src/registry/db.js';
import { openRegistry } from '../../src/registry/index.js';
import { migrate } from '../../src/registry/migrate.js';
import { MIGRATIONS } from '../../src/registry/migrations/index.js';
import { open, tempDbPath } from './helpers.js';

describe('registry identity', () => {
  it('is a random id that stays with the file and differs between files', async () => {
    const file = tempDbPath();
    const id = await (await open(file)).registryId();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(await (await open(file)).registryId()).toBe(id);
    expect(await (await open(tempDbPath())).registryId()).not.toBe(id);
  });

  it('is given to a registry created before it existed, when it is upgraded', async () => {
    const file = tempDbPath();
    const db = openDatabase(file);
    migrate(db, MIGRATIONS.slice(0, 1));
    db.close();
    expect(await (await open(file)).registryId()).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses a zero-byte registry.db instead of starting a new registry in it', async () => {
    const file = tempDbPath();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '');
    let error: unknown;
    try {
      await openRegistry(file);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RainopsError);
    expect((error as Error).message).toBe(
      `registry.db is empty (0 bytes): ${file} holds no registry, so it was truncated or never finished; restore it from a backup, or remove it to start a new registry`,
    );
    expect(fs.statSync(file).size).toBe(0);
  });

  it('creates a new file whole, leaving nothing else beside it', async () => {
    const file = tempDbPath();
    await (await open(file)).close();
    expect(fs.statSync(file).size).toBeGreaterThan(0);
    expect(fs.readdirSync(path.dirname(file)).filter((f) => f.includes('.new-'))).toEqual([]);
  });
});
