import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { openRegistry } from '../../src/registry/index.js';
import { cli, tempDir } from '../helpers/cli.js';

describe('runs compare --csv', () => {
  it('quotes values holding commas, quotes, carriage returns and newlines, so that they read back as written', async () => {
    const cwd = tempDir();
    const registry = await openRegistry(join(cwd, '.rainops/registry.db'));
    const odd = ['a,b', 'say "hi"', 'line\rbreak', 'two\nlines'];
    const ids: string[] = [];
    for (const i of [0, 1]) {
      const run = await registry.startRun({ experiment: 'csv', name: `run ${i}` });
      await registry.logParams(run.id, { note: odd[i * 2]!, other: odd[i * 2 + 1]! });
      await registry.finishRun(run.id, { status: 'FINISHED' });
      ids.push(run.id);
    }
    await registry.close();
    const r = await cli(['runs', 'compare', ...ids, '--csv'], {}, cwd);
    expect(r.code).toBe(0);
    const rows = parse(r.stdout) as string[][];
    expect(rows.find((row) => row[1] === 'note')!.slice(2, 3)).toEqual(['a,b']);
    expect(rows.find((row) => row[1] === 'other')!.slice(2, 3)).toEqual(['say "hi"']);
    expect(rows.find((row) => row[1] === 'note')![3]).toBe('line\rbreak');
    expect(rows.find((row) => row[1] === 'other')![3]).toBe('two\nlines');
    // A bare carriage return ends a record for many readers: it must be inside quotes.
    expect(r.stdout).toContain('"line\rbreak"');
    expect(rows).toHaveLength(3);
  });
});
