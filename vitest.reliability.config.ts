import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { nativeEngineEnv } from './src/core/models/native-lib.js';

export default defineConfig({
  test: {
    include: ['tests/reliability/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // As the binary's entry does, before any test loads libxgboost.
    env: nativeEngineEnv(process.env),
    // Worker threads inherit these: the fold pool's workers then load TypeScript sources (see the file).
    execArgv: ['--import', fileURLToPath(new URL('./tests/helpers/worker-tsx.mjs', import.meta.url))],
    fileParallelism: false,
  },
});
