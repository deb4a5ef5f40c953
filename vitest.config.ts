import { availableParallelism } from 'node:os';
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
    // The default (cores - 1) runs one file at a time on 2 cores, while files spend much time waiting on processes.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // As the binary's entry does, before any test loads libxgboost.
    env: nativeEngineEnv(process.env),
    // Worker threads inherit these: the fold pool's workers then load TypeScript sources (see the file).
    execArgv: ['--import', fileURLToPath(new URL('./tests/helpers/worker-tsx.mjs', import.meta.url))],
  },
});
