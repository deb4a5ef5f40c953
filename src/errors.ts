/** An error a user can hit: its message is a sentence saying what went wrong and what to do. */
export class RainopsError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad usage: an invalid flag value or argument (exit code 2). */
export class UsageError extends RainopsError {
  override readonly exitCode: number = 2;
}

/**
 * Not a failure: a check found what it looks for past its thresholds (monitor: drift or decay), exit code 3,
 * so that cron and scripts can tell it from an error. The command printed its result before throwing.
 */
export class ThresholdExceeded extends RainopsError {
  override readonly exitCode: number = 3;
}

/** Something named by the user does not exist (a run, a data set, a model version). */
export class NotFoundError extends RainopsError {}

/** Input data that cannot be used as it is (a CSV without the expected header, say). */
export class DataError extends RainopsError {}

/** Another process changed shared state first (an alias moved, a lock is held). */
export class ConflictError extends RainopsError {}

/** A stored file does not match the checksum recorded for it. */
export class IntegrityError extends RainopsError {}

/**
 * A full disk (ENOSPC) or an exhausted quota (EDQUOT, SQLite's SQLITE_FULL) as a DataError naming what was
 * being written and what to do; null for any other error.
 */
export function diskFullError(
  err: unknown,
  writing: string,
  opts: { fix?: string; scope?: string } = {},
): DataError | null {
  const code = (err as { code?: unknown } | null)?.code;
  const what =
    code === 'ENOSPC' || code === 'SQLITE_FULL'
      ? 'no space left on device'
      : code === 'EDQUOT'
        ? 'disk quota exceeded'
        : null;
  if (what === null) return null;
  const fix = opts.fix ?? 'free space or point --store elsewhere';
  return new DataError(`${opts.scope ? `${opts.scope}: ` : ''}${what} while writing ${writing}; ${fix}`, {
    cause: err,
  });
}
