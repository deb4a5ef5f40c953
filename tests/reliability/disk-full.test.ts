import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir, weatherCsvText } from '../helpers/cli.js';
import { BIN } from '../helpers/spawn.js';
import { modelHome } from '../server/helpers.js';
import type { ModelHome } from '../server/helpers.js';

/** Whether this machine lets an unprivileged mount namespace mount a tmpfs (a small, really full disk). */
const canMountTmpfs =
  spawnSync('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs -o size=16k tmpfs /mnt'], { stdio: 'ignore' }).status === 0;

/**
 * Runs the binary with a `kib` KiB tmpfs mounted at `disk` (seen only by that process), then prints what
 * is left on the disk; the tmpfs goes away with the namespace.
 */
function onTinyDisk(kib: number, disk: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `mount -t tmpfs -o size=${kib}k tmpfs '${disk}' && '${process.execPath}' '${BIN}' ${quoted}; rc=$?; echo "--- left:"; find '${disk}' -type f; exit $rc`;
  const r = spawnSync('unshare', ['-rm', 'sh', '-c', script], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  const [stdout = '', left = ''] = r.stdout.split('--- left:\n');
  return { code: r.status, stdout, stderr: r.stderr, left: left.split('\n').filter(Boolean) };
}

describe.skipIf(!canMountTmpfs)('a full disk is a DataError naming the file and what to do', () => {
  let home: ModelHome;
  let rows: string;
  beforeAll(async () => {
    home = await modelHome();
    rows = join(home.dir, 'rows.csv');
    const lines = weatherCsvText().split('\n');
    writeFileSync(rows, `${lines.filter((l, i) => i === 0 || (i % 40 === 0 && l !== '')).join('\n')}\n`);
  });
  afterAll(() => home?.close());

  it('etl with its store on a full disk: exit 1, one line, no temp files left, nothing registered', async () => {
    const disk = tempDir();
    const cwd = tempDir();
    const r = onTinyDisk(128, disk, ['etl', '--source', rows, '--store', `file://${disk}/store`], cwd, {
      RAINOPS_HOME: join(cwd, '.rainops'),
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(
      new RegExp(
        `^rainops: store: no space left on device while writing file://${disk}/store/(?:staging/[0-9a-f]+/)?datasets/[0-9a-f]+/[\\w/]+\\.csv; free space or point --store elsewhere$`,
      ),
    );
    expect(r.stderr).not.toContain('unexpected error');
    expect(r.left.filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(JSON.parse((await cli(['datasets', 'list', '--json'], {}, cwd)).stdout)).toEqual([]);
  });

  it('predict --output on a full disk: exit 1, one line, no partial or temp file', () => {
    const disk = tempDir();
    const r = onTinyDisk(32, disk, ['predict', '--input', rows, '--output', join(disk, 'preds.csv')], home.dir, {
      RAINOPS_HOME: home.rainopsHome,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `rainops: predict: no space left on device while writing ${join(disk, 'preds.csv')}; free space or point --output elsewhere\n`,
    );
    expect(r.left).toEqual([]);
  });

  it('predict to a standard output that is full (/dev/full): exit 1, one line', () => {
    const r = spawnSync('sh', ['-c', `'${process.execPath}' '${BIN}' predict --input '${rows}' > /dev/full`], {
      cwd: home.dir,
      env: { ...process.env, RAINOPS_HOME: home.rainopsHome },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      'rainops: predict: no space left on device while writing predictions to standard output; free space, or write them to another disk with --output\n',
    );
  });
});
