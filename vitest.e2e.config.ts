import path from "node:path";
import { defineConfig } from "vitest/config";

// Browser and whole-server tests: they need a production build (`npm run build`) and Chromium.
export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    include: ["tests/e2e/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: 1,
    env: { NEXT_TELEMETRY_DISABLED: "1" },
  },
});
