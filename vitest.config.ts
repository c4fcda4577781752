import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One DynamoDB Local for the whole run; each test file uses its own table prefix.
    globalSetup: ['test/support/dynamodb-local.global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // 2 cores: DynamoDB Local's JVM needs one of them.
    maxWorkers: 2,
  },
});
