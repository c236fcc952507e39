/**
 * Reads Stryker's JSON report and fails (exit 1) when a module's mutation score is below its floor
 * (issue 17: 95 % for the money modules, 90 % for the perimeter). Prints each module's score and
 * every mutant that survived or has no test, so docs/TESTING.md can account for them.
 *
 *   npx tsx scripts/mutation-scores.ts reports/mutation/mutation.json
 */
import { readFileSync } from "node:fs";

export const SCORE_FLOORS: Record<string, number> = {
  "lib/credits/ledger.ts": 95,
  "lib/db/generations.ts": 95,
  "lib/generation/settle.ts": 95,
  "lib/http/idempotency.ts": 90,
  "lib/security/urlGuard.ts": 90,
  "lib/kie/errors.ts": 90,
  "lib/kie/codes.ts": 90,
  "lib/kie/sanitize.ts": 90,
  "lib/auth/authenticator.ts": 90,
  "lib/auth/verifiers.ts": 90,
  "lib/auth/supabaseUrl.ts": 90,
  "lib/auth/apiKeys.ts": 90,
  "lib/http/body.ts": 90,
};

interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { source: string; mutants: Mutant[] }>;
}

const DETECTED = new Set(["Killed", "Timeout"]);
const UNDETECTED = new Set(["Survived", "NoCoverage"]);

/** Stryker's score: detected / (detected + undetected); compile and runtime errors do not count. */
export function scoreOf(mutants: Mutant[]): number {
  const detected = mutants.filter((m) => DETECTED.has(m.status)).length;
  const valid = detected + mutants.filter((m) => UNDETECTED.has(m.status)).length;
  return valid === 0 ? 100 : (100 * detected) / valid;
}

function main(path: string): number {
  const report = JSON.parse(readFileSync(path, "utf8")) as Report;
  let failed = 0;
  for (const [file, floor] of Object.entries(SCORE_FLOORS)) {
    const entry = report.files[file];
    if (!entry) {
      console.error(`${file}: not in the report`);
      failed++;
      continue;
    }
    const score = scoreOf(entry.mutants);
    const ok = score >= floor;
    if (!ok) failed++;
    console.log(`${ok ? "ok  " : "FAIL"} ${score.toFixed(1).padStart(5)} % (floor ${floor} %) ${file}`);
    const lines = entry.source.split("\n");
    for (const m of entry.mutants.filter((m) => UNDETECTED.has(m.status))) {
      const line = m.location.start.line;
      console.log(
        `       ${m.status} #${m.id} ${file}:${line} ${m.mutatorName}: ${lines[line - 1]?.trim()} → ${m.replacement ?? ""}`,
      );
    }
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv[2] ?? "reports/mutation/mutation.json");
