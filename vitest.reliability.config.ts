import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/reliability/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Worker threads inherit these: the fold pool's workers then load TypeScript sources (see the file).
    execArgv: ['--import', fileURLToPath(new URL('./tests/helpers/worker-tsx.mjs', import.meta.url))],
    fileParallelism: false,
  },
});
