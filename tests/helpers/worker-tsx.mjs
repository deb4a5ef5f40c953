// Preloaded into the test processes (vitest.config.ts): worker threads that code under test starts, such as the
// fold pool's, load the TypeScript sources through tsx, as the test files themselves load through vitest.
import { isMainThread } from 'node:worker_threads';

if (!isMainThread) (await import('tsx/esm/api')).register();
