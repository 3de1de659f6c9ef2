import { configDefaults, defineConfig } from "vitest/config";
import base from "./vitest.config.js";

// `npm run test:browser`: the tests that drive Debian's Chromium, kept out of `npm test` (which a
// fresh machine without a browser must pass).
export default defineConfig({
  ...base,
  test: { ...base.test, include: ["test/browser/**/*.test.ts"], exclude: configDefaults.exclude, testTimeout: 60_000 },
});
