// Mutation testing of the money and perimeter modules (docs/TESTING.md "Mutation testing").
// Run through `npm run test:mutation` (scripts/mutation.sh): it gives the run a network namespace
// with only loopback, so a mutant of the URL guard cannot make a test connect out.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: true },
  // TypeScript 7 has no JS API for Stryker's checker: mutants that do not compile fail their tests instead.
  checkers: [],
  // …and its sandbox step that rewrites tsconfig.json calls the same missing API. Nothing here needs
  // the rewrite (no `extends` or references outside the project), so point it at no file.
  tsconfigFile: "tsconfig.stryker-does-not-rewrite.json",
  coverageAnalysis: "perTest",
  mutate: [
    "lib/credits/ledger.ts",
    "lib/db/generations.ts",
    "lib/generation/settle.ts",
    "lib/http/idempotency.ts",
    "lib/security/urlGuard.ts",
    "lib/kie/errors.ts",
    "lib/kie/codes.ts",
    "lib/kie/sanitize.ts",
    "lib/auth/authenticator.ts",
    "lib/auth/verifiers.ts",
    "lib/auth/supabaseUrl.ts",
    "lib/auth/apiKeys.ts",
    "lib/http/body.ts",
  ],
  ignorePatterns: [
    "/.next",
    "/.data",
    "/coverage",
    "/reports",
    "/test-results",
    "/docs",
    "/public",
    "/tests/e2e",
    "/stryker-incremental.json",
  ],
  // Static mutants (module-level tables: the forbidden IPv4 ranges, KIE's code table, brands) can
  // only be tested by reloading everything and running every related test: three quarters of the
  // run time for a sixth of the mutants. Those tables are pinned row by row by table-driven tests
  // instead (docs/TESTING.md).
  ignoreStatic: true,
  incremental: true,
  incrementalFile: "tests/mutation/stryker-incremental.json",
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
  // The machine is shared and PGlite is slow to open: a slow test is not an infinite loop.
  timeoutMS: 60_000,
  dryRunTimeoutMinutes: 30,
  timeoutFactor: 2,
  reporters: ["clear-text", "progress", "json", "html"],
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  // Per-module thresholds are checked by scripts/mutation-scores.ts; this is the overall floor.
  thresholds: { high: 95, low: 90, break: null },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
