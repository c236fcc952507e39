import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { balance, ensureAccount } from "@/lib/credits";
import { creditAccounts, type Database, openDatabase, users } from "@/lib/db";
import { createEmptyPostgresDatabase, TEST_DATABASE_URL } from "@/tests/helpers/database";

// Each case starts the CLI as a process (tsx, then the database): seconds each on a busy 2-core
// machine. A generous limit so a slow start is never read as a failure; nothing here is timed.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const run = promisify(execFile);
const CLI = path.resolve("scripts/credits.ts");

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

type Target = { kind: "pglite"; dataDir: string } | { kind: "postgres"; databaseUrl: string };

async function credits(target: Target, ...args: string[]): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, CREDITS_INITIAL: "10", LOG_LEVEL: "silent" };
  delete env.DATABASE_URL;
  if (target.kind === "pglite") env.DATA_DIR = target.dataDir;
  else env.DATABASE_URL = target.databaseUrl;
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", CLI, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const openTarget = (target: Target) =>
  openDatabase(target.kind === "pglite" ? { dataDir: target.dataDir } : { databaseUrl: target.databaseUrl });

/** Alice has an account; Carol signed in but has no credit account yet. */
async function seed(target: Target): Promise<void> {
  const database = await openTarget(target);
  try {
    await ensureAccount(database.db, "alice-id", { initialCredits: 10, email: "Alice@Example.com" });
    await database.db.insert(users).values({ id: "carol-id", email: "carol@example.com" });
  } finally {
    await database.close();
  }
}

async function balanceIn(target: Target, userId: string): Promise<number | null> {
  const database: Database = await openTarget(target);
  try {
    return await balance(database.db, userId);
  } finally {
    await database.close();
  }
}

function cliSuite(getTarget: () => Target) {
  it("shows and grants credits by email or user id", async () => {
    const target = getTarget();
    expect(await credits(target, "balance", "alice@example.com")).toMatchObject({
      code: 0,
      stdout: "Alice@Example.com (user id alice-id) has 10 credits.\n",
    });
    const granted = await credits(target, "grant", "alice-id", "5");
    expect(granted).toMatchObject({ code: 0 });
    expect(granted.stdout).toContain(
      "Granted 5 credits to Alice@Example.com (user id alice-id). Balance: 15.",
    );
    expect(await balanceIn(target, "alice-id")).toBe(15);
  });

  it("grants once per reference", async () => {
    const target = getTarget();
    const first = await credits(target, "grant", "alice@example.com", "3", "--reference", "ticket-7");
    const again = await credits(target, "grant", "alice@example.com", "3", "--reference=ticket-7");
    expect(first.code).toBe(0);
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toContain('Nothing granted: reference "ticket-7" was already used');
    expect(await balanceIn(target, "alice-id")).toBe(18);
  });

  it("gives a user without an account the initial credits before the grant", async () => {
    const target = getTarget();
    expect((await credits(target, "balance", "carol@example.com")).stdout).toContain("no credit account yet");
    expect((await credits(target, "grant", "carol@example.com", "2")).stdout).toContain("Balance: 12.");
  });

  it("fails clearly for an unknown user (exit 1) and for wrong usage (exit 2)", async () => {
    const target = getTarget();
    const unknown = await credits(target, "grant", "nobody@example.com", "5");
    expect(unknown).toMatchObject({ code: 1, stdout: "" });
    expect(unknown.stderr).toContain('No user with id or email "nobody@example.com"');

    for (const args of [
      ["grant", "alice-id", "0"],
      ["grant", "alice-id", "2.5"],
      ["grant", "alice-id"],
      ["refund"],
      [],
    ]) {
      const result = await credits(target, ...args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toContain("Usage:");
    }
    expect((await credits(target, "grant", "alice-id", "-4")).stderr).toContain("whole number");
    expect(await balanceIn(target, "alice-id")).toBe(18);
  });

  it("audit: exit 0 on a balanced ledger, exit 1 naming each problem otherwise", async () => {
    const target = getTarget();
    expect(await credits(target, "audit")).toMatchObject({
      code: 0,
      stdout: "Ledger balanced: 2 accounts, 0 jobs (0 open, holding 0 credits).\n",
    });
    // Damage the ledger as a bug would (a balance changed without a ledger row), then repair it.
    const setBalance = async (value: number) => {
      const database = await openTarget(target);
      try {
        await database.db
          .update(creditAccounts)
          .set({ balance: value })
          .where(eq(creditAccounts.userId, "alice-id"));
      } finally {
        await database.close();
      }
    };
    await setBalance(99);
    const damaged = await credits(target, "audit");
    await setBalance(18);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain("Ledger NOT balanced: 1 problem(s)");
    expect(damaged.stderr).toContain("balance_mismatch: user alice-id: grants 18 − captures 0 − held 0 = 18");
    expect((await credits(target, "audit", "alice-id")).code).toBe(2);
  });
}

describe("credits CLI on the embedded database", () => {
  let dataDir: string;
  const target = (): Target => ({ kind: "pglite", dataDir });

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "nb-cli-"));
    await seed(target());
  });
  afterAll(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  cliSuite(target);

  it("refuses to run while another process (the server) holds the data folder", async () => {
    const server = await openDatabase({ dataDir });
    try {
      const refused = await credits(target(), "grant", "alice-id", "100");
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`The embedded database in "${dataDir}" is in use by another process`);
      expect(refused.stderr).toContain("stop the server");
      expect(await balance(server.db, "alice-id")).toBe(18);
    } finally {
      await server.close();
    }
  });
});

describe.skipIf(!TEST_DATABASE_URL)(
  `credits CLI on Postgres${TEST_DATABASE_URL ? "" : " (needs TEST_DATABASE_URL)"}`,
  () => {
    let database: { url: string; drop(): Promise<void> } | undefined;
    const target = (): Target => ({ kind: "postgres", databaseUrl: database!.url });

    beforeAll(async () => {
      database = await createEmptyPostgresDatabase();
      await seed(target());
    });
    afterAll(async () => {
      await database?.drop();
    });

    cliSuite(target);
  },
);
