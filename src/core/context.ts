import type { Registry } from '../registry/index.js';
import type { ArtifactStore } from './store/types.js';

/** Human progress lines; the CLI decides where they go (stderr) and how they look. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, debug() {} };

/** What core functions need from the outside world, passed in so tests can supply their own. */
export interface CoreDeps {
  registry: Registry;
  store: ArtifactStore;
  logger: Logger;
  /** RAINOPS_HOME: the registry, caches and locks live here. */
  home: string;
  now?: () => Date;
  /** Checks (once) that this registry owns the store; writing commands call it before any work. */
  claimStore?: () => Promise<void>;
}

export const EXPERIMENT = 'Rain Dataset';
export const MODEL_NAME = 'Rain_dataset_model_prod';
export const CHAMPION_ALIAS = 'prod_best';
export const CHALLENGER_ALIAS = 'challenger';
