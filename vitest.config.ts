import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    // 2 cores: DynamoDB Local's JVM needs one of them.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 120_000,
          // Bundling every handler, sharp for arm64 and the web app; a loaded 2-core runner needs the room.
          hookTimeout: 900_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'local',
          include: [
            'test/integration/**/*.test.ts',
            'test/local/**/*.test.ts',
            'test/e2e/**/*.test.ts',
            'test/browser/**/*.test.ts',
          ],
          // One DynamoDB Local for the whole run; each test file uses its own table prefix.
          globalSetup: ['test/support/dynamodb-local.global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
