import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A check that no process a test started outlives the run (its teardown runs last), dist/
    // built when stale (tests that start `tocsin` run the compiled build), and a private
    // redis-server for the whole run: tests never touch a Redis they did not start.
    globalSetup: ['test/helpers/global-processes.ts', 'test/helpers/global-build.ts', 'test/helpers/global-redis.ts'],
    // Generous: CI machines are shared, and several tests start tocsin as a child process.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
