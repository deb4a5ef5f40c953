import type { Registry } from '../registry/index.js';
import type { ArtifactStore } from './store/types.js';

/** Human progress lines; the CLI decides where they go (stderr) and how they look. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, debug() {} };

/**
 * Registers synchronous cleanup (removing a temp file) to run if the process is interrupted by a signal,
 * when no finally block will; returns the function that unregisters it.
 */
export type InterruptHook = (cleanup: () => void) => () => void;

/** What core functions need from the outside world, passed in so tests can supply their own. */
export interface CoreDeps {
  registry: Registry;
  store: ArtifactStore;
  logger: Logger;
  /** RAINOPS_HOME: the registry, caches and locks live here. */
  home: string;
  /** The clock; core reads "now" only through clockOf(deps). */
  now?: () => Date;
  /** Checks (once) that this registry owns the store; writing commands call it before any work. */
  claimStore?: () => Promise<void>;
  /** Where cleanup registers for SIGINT/SIGTERM; main() runs it before exiting. */
  onInterrupt?: InterruptHook | undefined;
}

/** The deps' clock, or the system's when none was given. */
export const clockOf = (deps: { now?: (() => Date) | undefined }): (() => Date) => deps.now ?? (() => new Date());

export const EXPERIMENT = 'Rain Dataset';
export const MODEL_NAME = 'Rain_dataset_model_prod';
export const CHAMPION_ALIAS = 'prod_best';
export const CHALLENGER_ALIAS = 'challenger';
