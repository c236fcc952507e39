import path from "node:path";
import { defineConfig } from "vitest/config";

// The fault suite (`npm run test:faults`): KIE, the database, Redis and the server itself failing
// on purpose; every scenario ends with a ledger audit. The crash scenario needs a production build.
export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    include: ["tests/faults/**/*.test.ts"],
    environment: "node",
    // Generous: a shared, busy CI machine starts `next start` slowly; the scenarios end well before.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
    env: { NEXT_TELEMETRY_DISABLED: "1", LOG_LEVEL: "silent" },
  },
});
