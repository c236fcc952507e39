/**
 * Each mutated module loads. A mutant that makes a module throw while loading would otherwise run
 * no test at all and count as survived: importing it inside a test turns that into a failure.
 * (The import is dynamic and inside the test on purpose: a failing top-level import only marks the
 * file, which the mutation runner does not count.)
 */
import { describe, expect, it } from "vitest";

const modules: [string, () => Promise<Record<string, unknown>>, string[]][] = [
  ["lib/credits/ledger", () => import("@/lib/credits/ledger"), ["reserve", "capture", "release", "grant"]],
  ["lib/db/generations", () => import("@/lib/db/generations"), ["settleGeneration", "attachKieTask"]],
  ["lib/http/idempotency", () => import("@/lib/http/idempotency"), ["withIdempotency"]],
  ["lib/security/urlGuard", () => import("@/lib/security/urlGuard"), ["checkProxyUrl", "isForbiddenAddress"]],
  ["lib/kie/errors", () => import("@/lib/kie/errors"), ["errorForCode", "sanitizeKieText"]],
  ["lib/auth/authenticator", () => import("@/lib/auth/authenticator"), ["createAuthenticator"]],
  ["lib/http/body", () => import("@/lib/http/body"), ["readJson"]],
];

describe("mutated modules", () => {
  it.each(modules)("%s loads and exports its API", async (_name, load, names) => {
    const module = await load();
    for (const name of names) expect(typeof module[name]).toBe("function");
  });
});
