import { defineConfig, mergeConfig } from "vitest/config";
import base from "./vitest.config";

/**
 * The tests Stryker runs against each mutant (stryker.config.mjs): the focused files for the
 * mutated modules only, so the initial run stays short. Stryker narrows further per mutant to the
 * tests that cover it. The Postgres and Redis variants are skipped (the run has only a loopback
 * network of its own; scripts/mutation.sh unsets their URLs), PGlite covers the SQL.
 */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: [
        "tests/mutation/*.test.ts",
        "tests/unit/security/urlGuard.test.ts",
        "tests/integration/security/guardedDispatcher.test.ts",
        "tests/unit/kie/errors.test.ts",
        "tests/integration/credits/*.test.ts",
        "tests/integration/db/generations.test.ts",
        "tests/integration/db/guards.test.ts",
        "tests/unit/http/idempotency.test.ts",
        "tests/integration/http/idempotency.test.ts",
        "tests/unit/auth/verify.test.ts",
        "tests/unit/auth/authenticate.test.ts",
        "tests/unit/http/body.test.ts",
      ],
      exclude: ["tests/integration/credits/cli.test.ts"],
    },
  }),
);
