/**
 * The ledger audit: a ledger written by the real functions balances (open, succeeded, failed and
 * granted jobs alike), and each kind of damage an operator must hear about is reported by name.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { auditLedger, describeAudit, ensureAccount, grant, reserve } from "@/lib/credits";
import { creditAccounts, creditLedger, type DbExecutor, generations } from "@/lib/db";
import { insertGeneration, type SettledStatus } from "@/lib/db/generations";
import { settle } from "@/lib/generation/settle";
import { describeEachDatabase } from "@/tests/helpers/database";

async function job(db: DbExecutor, userId: string, settleAs?: SettledStatus, cost = 1): Promise<string> {
  const id = randomUUID();
  await db.transaction(async (tx) => {
    await insertGeneration(tx, {
      id,
      userId,
      type: "text_to_image",
      model: "google/nano-banana",
      prompt: "p",
      cost,
    });
    await reserve(tx, { userId, cost, generationId: id });
  });
  if (settleAs) await settle(db, id, { status: settleAs }, { notify: false });
  return id;
}

describeEachDatabase("ledger audit", (getDb) => {
  it("balances a ledger written by reserve, capture, release and grants, open jobs included", async () => {
    const { db } = getDb();
    await ensureAccount(db, "alice", { initialCredits: 10 });
    await ensureAccount(db, "bob", { initialCredits: 3 });
    await grant(db, { userId: "alice", amount: 5, reference: "operator:gift" });
    await job(db, "alice", "succeeded");
    await job(db, "alice", "failed");
    await job(db, "alice", "timeout");
    await job(db, "alice");
    await job(db, "bob", "succeeded", 2);

    const audit = await auditLedger(db);
    expect(audit.problems).toEqual([]);
    expect(audit).toMatchObject({ balanced: true, accounts: 2, jobs: 5, openJobs: 1, heldCredits: 1 });
    expect(describeAudit(audit)).toBe("Ledger balanced: 2 accounts, 5 jobs (1 open, holding 1 credits).");
  });

  it("reports a balance that disagrees with the ledger", async () => {
    const { db } = getDb();
    await ensureAccount(db, "alice", { initialCredits: 10 });
    await job(db, "alice", "succeeded");
    await db.update(creditAccounts).set({ balance: 12 }).where(sql`${creditAccounts.userId} = 'alice'`);

    const audit = await auditLedger(db);
    expect(audit.balanced).toBe(false);
    expect(audit.problems).toEqual([
      {
        kind: "balance_mismatch",
        userId: "alice",
        detail: "grants 10 − captures 1 − held 0 = 9, but the balance is 12",
      },
    ]);
    expect(describeAudit(audit)).toContain("Ledger NOT balanced: 1 problem(s)");
  });

  it("reports a settled job whose reserve was never captured or released, and a job with no reserve", async () => {
    const { db } = getDb();
    await ensureAccount(db, "alice", { initialCredits: 10 });
    const unsettled = await job(db, "alice");
    // Damage as a bug would leave it: the status moved, the credits did not.
    await db
      .update(generations)
      .set({ status: "failed", settledAt: sql`now()` })
      .where(sql`${generations.id} = ${unsettled}`);
    const unreserved = randomUUID();
    await insertGeneration(db, {
      id: unreserved,
      userId: "alice",
      type: "text_to_image",
      model: "google/nano-banana",
      prompt: "p",
      cost: 1,
    });

    const kinds = (await auditLedger(db)).problems.map((p) => [p.kind, p.generationId]);
    expect(kinds).toEqual(
      expect.arrayContaining([
        ["missing_settlement", unsettled],
        ["missing_reserve", unreserved],
      ]),
    );
    // The failed job's reserve is still held by the ledger, yet the job is final: the balance
    // check alone would pass, so only the job check finds it.
    expect(kinds).toHaveLength(2);
  });

  it("reports a settlement of the wrong kind and a settled open job", async () => {
    const { db } = getDb();
    await ensureAccount(db, "alice", { initialCredits: 10 });
    const captured = await job(db, "alice", "succeeded");
    await db.update(generations).set({ status: "failed" }).where(sql`${generations.id} = ${captured}`);
    const reopened = await job(db, "alice", "failed");
    await db
      .update(generations)
      .set({ status: "pending", settledAt: null })
      .where(sql`${generations.id} = ${reopened}`);

    const problems = (await auditLedger(db)).problems;
    expect(problems.map((p) => [p.kind, p.generationId])).toEqual(
      expect.arrayContaining([
        ["wrong_settlement", captured],
        ["open_job_settled", reopened],
      ]),
    );
  });

  it("reports ledger rows of a user with no account", async () => {
    const { db } = getDb();
    await ensureAccount(db, "alice", { initialCredits: 10 });
    await db.delete(creditAccounts).where(sql`${creditAccounts.userId} = 'alice'`);
    expect(await db.select().from(creditLedger)).toHaveLength(1);
    expect((await auditLedger(db)).problems).toEqual([
      { kind: "ledger_without_account", userId: "alice", detail: "ledger rows but no credit account" },
    ]);
  });
});
