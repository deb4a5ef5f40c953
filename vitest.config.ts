import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { nativeEngineEnv } from './src/core/models/native-lib.js';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'tests/**/*.test.tsx'],
    // The reliability suite has its own command: npm run test:reliability.
    exclude: ['tests/reliability/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // As the binary's entry does, before any test loads libxgboost.
    env: nativeEngineEnv(process.env),
    // Worker threads inherit these: the fold pool's workers then load TypeScript sources (see the file).
    execArgv: ['--import', fileURLToPath(new URL('./tests/helpers/worker-tsx.mjs', import.meta.url))],
  },
});
