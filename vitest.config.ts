import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'tests/**/*.test.tsx'],
    // The reliability suite has its own command: npm run test:reliability.
    exclude: ['tests/reliability/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Worker threads inherit these: the fold pool's workers then load TypeScript sources (see the file).
    execArgv: ['--import', fileURLToPath(new URL('./tests/helpers/worker-tsx.mjs', import.meta.url))],
  },
});
