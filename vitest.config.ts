import path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    include: ["tests/unit/**/*.test.ts", "tests/integration/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite in-memory instances are ~2-3 s to open; keep files isolated but not over-parallel on 2 cores.
    pool: "forks",
    maxWorkers: 2,
    env: { NEXT_TELEMETRY_DISABLED: "1", LOG_LEVEL: "silent" },
  },
});
