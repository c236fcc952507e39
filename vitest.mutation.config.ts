import { defineConfig } from "vitest/config";
import base from "./vitest.config";

/**
 * The tests Stryker runs against each mutant (stryker.config.mjs): the focused files for the
 * mutated modules only, so the initial run stays short. Stryker narrows further per mutant, to the
 * tests that cover it. The Postgres and Redis variants skip (the run has only a loopback network
 * of its own and scripts/mutation.sh unsets their URLs): PGlite runs the SQL.
 *
 * (Not mergeConfig: it would append this include list to the base one, i.e. run everything.)
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // The run is niced on a shared machine: a slow PGlite start is not a failure. (Stryker's own
    // timeoutMS decides when a mutant counts as an infinite loop.)
    testTimeout: 120_000,
    hookTimeout: 300_000,
    include: [
      // lib/security/urlGuard.ts
      "tests/unit/security/urlGuard.test.ts",
      "tests/integration/security/guardedDispatcher.test.ts",
      // lib/kie/errors.ts, codes.ts, sanitize.ts (and each error's public answer)
      "tests/unit/kie/errors.test.ts",
      "tests/unit/http/errorTable.test.ts",
      // lib/credits/ledger.ts, lib/db/generations.ts, lib/generation/settle.ts
      "tests/integration/credits/ledger.test.ts",
      "tests/unit/credits/reserve-errors.test.ts",
      "tests/integration/db/generations.test.ts",
      "tests/integration/db/guards.test.ts",
      "tests/integration/db/generationsKie.test.ts",
      // lib/http/idempotency.ts
      "tests/unit/http/idempotency.test.ts",
      "tests/integration/http/idempotency.test.ts",
      // lib/auth/authenticator.ts, verifiers.ts, supabaseUrl.ts
      "tests/unit/auth/verify.test.ts",
      "tests/unit/auth/verifiers.test.ts",
      "tests/unit/auth/authenticate.test.ts",
      "tests/unit/auth/supabaseRules.test.ts",
      "tests/unit/auth/dev.test.ts",
      "tests/unit/auth/signOut.test.ts",
      // lib/auth/apiKeys.ts (and the authenticator's branch for keys)
      "tests/unit/auth/apiKeys.test.ts",
      // lib/http/body.ts
      "tests/unit/http/body.test.ts",
    ],
  },
});
