import { createRequire } from "node:module";
import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  // Node loads graphql's CommonJS entry for the libraries; Vite would give our code the .mjs one: one realm only.
  resolve: { alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve("graphql") }] },
  test: {
    include: ["test/**/*.test.ts"],
    // Chromium's tests run in `npm run test:browser` (vitest.browser.config.ts).
    exclude: [...configDefaults.exclude, "test/browser/**"],
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/setup.ts"],
    // Files share their worker's migrated database (PGlite costs ~2 s to create); setup.ts empties it per file.
    isolate: false,
    pool: "forks",
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 20_000,
    hookTimeout: 60_000,
    sequence: { concurrent: false },
  },
});
