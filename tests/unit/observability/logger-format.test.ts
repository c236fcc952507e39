import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../../..");

/** Runs createLogger in a child process (stdout is a pipe there) and returns what it printed. */
function logOnce(options: string): string {
  const script = `
    import { createLogger } from "./lib/observability/logger.ts";
    createLogger(${options}).info({ jobId: "j1", token: "s3cr3t" }, "job settled");
  `;
  return execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: root,
    encoding: "utf8",
  });
}

describe("log format", () => {
  it("writes JSON lines when stdout is not a terminal (log shippers)", () => {
    const line = JSON.parse(logOnce("{}").trim());
    expect(line).toMatchObject({ msg: "job settled", jobId: "j1", token: "[redacted]" });
  });

  it("writes readable lines for an operator's terminal, still redacted", () => {
    const out = logOnce("{ pretty: true }");
    expect(out.trim().startsWith("{")).toBe(false);
    expect(out).toMatch(/INFO.*job settled/);
    expect(out).toMatch(/jobId: "j1"/);
    expect(out).not.toContain("s3cr3t");
  });
});
