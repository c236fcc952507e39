/**
 * DESIGN.md §6 "Sign-in fails closed": `npm start` with a real KIE key or a real database and no
 * Supabase config refuses to start, with one message naming DEV_SIGN_IN — before building or
 * listening. (The whole-server side, binding and headers, is in tests/e2e.)
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..", "..", "..");

function start(env: Record<string, string>) {
  return spawnSync(
    process.execPath,
    [path.join(root, "node_modules", "tsx", "dist", "cli.mjs"), "scripts/start.ts"],
    {
      cwd: root,
      env: {
        NODE_ENV: "production",
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        NEXT_TELEMETRY_DISABLED: "1",
        PORT: "1", // never reached: the start must stop at the configuration check
        ...env,
      },
      encoding: "utf8",
      timeout: 60_000,
    },
  );
}

describe("npm start fails closed", () => {
  const envs: Record<string, string>[] = [
    { KIE_API_KEY: "sk-live-not-used" },
    { DATABASE_URL: "postgres://127.0.0.1:1/none" },
  ];
  for (const env of envs) {
    it(`refuses ${Object.keys(env)[0]} without Supabase, naming DEV_SIGN_IN`, () => {
      const result = start(env);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/DEV_SIGN_IN/);
      expect(result.stderr).not.toContain("sk-live-not-used");
      expect(result.stdout).not.toMatch(/Building/);
    });
  }
});

describe("npm start with WEB_CONCURRENCY above 1 (issue 28 item 5)", () => {
  it("refuses the embedded database (PGlite is one process), naming WEB_CONCURRENCY", () => {
    const result = start({ WEB_CONCURRENCY: "2" });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/WEB_CONCURRENCY above 1 needs DATABASE_URL \(Postgres\)/);
    expect(result.stdout).not.toMatch(/Building|Starting/);
  });

  it("refuses the embedded simulator (it lives in one process)", () => {
    const result = start({
      WEB_CONCURRENCY: "2",
      DATABASE_URL: "postgres://127.0.0.1:1/none",
      SUPABASE_JWT_SECRET: "a-supabase-jwt-secret-for-this-test-0123456789",
      IMAGE_URL_SECRET: "an-image-link-secret-for-this-test-0123456789",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/WEB_CONCURRENCY above 1 needs KIE_API_KEY, or KIE_BASE_URL/);
  });

  it("refuses a value that is not a small whole number", () => {
    const result = start({ WEB_CONCURRENCY: "many" });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/WEB_CONCURRENCY must be an integer/);
  });
});
