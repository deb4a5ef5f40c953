import type { Logger } from '../core/context.js';
import type { ArtifactStore } from '../core/store/types.js';
import type { Registry } from '../registry/index.js';

export interface UiDeps {
  registry: Registry;
  store: ArtifactStore;
  logger: Logger;
  /** Enables promote and rollback (the token once, then a session cookie); none: the pages only read. */
  adminToken?: string | undefined;
  /** Recorded as the actor of alias moves made from the pages. */
  actor?: string | undefined;
  /** The model /predict answers with, through its champion alias. */
  model?: string | undefined;
  now?: () => Date;
}

/** Rows per page of the runs table. */
export const PAGE_SIZE = 50;
