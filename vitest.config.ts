import { defineConfig } from 'vitest/config';

// Native addons (DuckDB, better-sqlite3) are safest in forked processes, not worker threads.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
