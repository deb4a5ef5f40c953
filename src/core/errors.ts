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

/** Something named by the user does not exist (a run, a data set, a model version). */
export class NotFoundError extends RainopsError {}

/** Input data that cannot be used as it is (a CSV without the expected header, say). */
export class DataError extends RainopsError {}

/** Another process changed shared state first (an alias moved, a lock is held). */
export class ConflictError extends RainopsError {}

/** A stored file does not match the checksum recorded for it. */
export class IntegrityError extends RainopsError {}
