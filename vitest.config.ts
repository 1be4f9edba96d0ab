import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, not the built dist/.
    alias: {
      '@tidewatch/integrations/pglite': fileURLToPath(
        new URL('./packages/integrations/src/pglite.ts', import.meta.url),
      ),
      '@tidewatch/integrations/pg': fileURLToPath(
        new URL('./packages/integrations/src/pg.ts', import.meta.url),
      ),
      '@tidewatch/protocol': src('protocol'),
      '@tidewatch/agent': src('agent'),
      '@tidewatch/collector/light': fileURLToPath(
        new URL('./packages/collector/src/light.ts', import.meta.url),
      ),
      '@tidewatch/collector': src('collector'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    // CI reads the JSON to fail on skipped tests and to print the closing summary line.
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: 'test-results/vitest.json' }]]
      : ['default'],
    allowOnly: !process.env.CI,
  },
});
