import { describe, expect, it } from 'vitest';
import { DataError, diskFullError } from '../../src/core/errors.js';

const coded = (code: string) => Object.assign(new Error(`${code}: oops`), { code });

describe('diskFullError', () => {
  it('turns a full disk or quota into a DataError naming what was written and what to do', () => {
    const full = diskFullError(coded('ENOSPC'), 'file:///s/datasets/x/raw.csv', { scope: 'store' });
    expect(full).toBeInstanceOf(DataError);
    expect(full!.message).toBe(
      'store: no space left on device while writing file:///s/datasets/x/raw.csv; free space or point --store elsewhere',
    );
    expect(diskFullError(coded('EDQUOT'), 'p.csv', { fix: 'free space or point --output elsewhere' })!.message).toBe(
      'disk quota exceeded while writing p.csv; free space or point --output elsewhere',
    );
    expect(diskFullError(coded('SQLITE_FULL'), 'registry.db')!.message).toMatch(
      /^no space left on device while writing registry\.db/,
    );
    expect(diskFullError(coded('EACCES'), 'x')).toBeNull();
    expect(diskFullError(null, 'x')).toBeNull();
  });
});
