import { defineConfig } from 'vitest/config';
export default defineConfig({ test: { include: ['test/integration/**/*.test.ts','tmp-bench.test.ts'], globalSetup: ['tmp-setup.ts'], testTimeout: 60000, hookTimeout: 60000, pool: 'forks' } });
