import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A private redis-server for the whole run: tests never touch a Redis they did not start.
    // Leftovers first: it marks every process the suite starts (the redis-server too), and its
    // teardown, which runs last, fails the run if any of them outlives it.
    globalSetup: ['test/helpers/leftovers.ts', 'test/helpers/global-redis.ts'],
    // Generous: CI machines are shared, and several tests start tocsin as a child process.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
