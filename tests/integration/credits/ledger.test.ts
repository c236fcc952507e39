import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  AlreadyReservedError,
  balance,
  capture,
  ensureAccount,
  grant,
  InsufficientCreditsError,
  initialGrantReference,
  release,
  reserve,
  UnknownUserError,
} from "@/lib/credits";
import { type AppDatabase, creditLedger, type DbExecutor, generations, users } from "@/lib/db";
import { describeEachDatabase } from "@/tests/helpers/database";

async function newGeneration(db: DbExecutor, userId: string, cost = 1): Promise<string> {
  const [row] = await db
    .insert(generations)
    .values({ userId, type: "text_to_image", model: "google/nano-banana", prompt: "a banana", cost })
    .returning({ id: generations.id });
  return row!.id;
}

async function ledgerOf(db: AppDatabase, userId: string) {
  return db.select().from(creditLedger).where(eq(creditLedger.userId, userId));
}

/** The balance the ledger implies: Σgrant − Σreserve + Σrelease (capture keeps the reserve). */
async function expectLedgerMatchesBalance(db: AppDatabase, userId: string): Promise<number> {
  const rows = await ledgerOf(db, userId);
  const effect = { grant: 1, reserve: -1, release: 1, capture: 0 } as const;
  const implied = rows.reduce((sum, row) => sum + effect[row.kind] * row.amount, 0);
  expect(await balance(db, userId)).toBe(implied);
  return implied;
}

function settledCount(results: PromiseSettledResult<unknown>[]) {
  const fulfilled = results.filter((r) => r.status === "fulfilled").length;
  const rejected = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
  return { fulfilled, rejected: rejected.map((r) => r.reason as unknown) };
}

describeEachDatabase("credit ledger", (getDb) => {
  const db = () => getDb().db;
  const emailOf = async (id: string) =>
    (await db().select({ email: users.email }).from(users).where(eq(users.id, id)))[0]?.email ?? null;

  describe("ensureAccount", () => {
    it("creates the user with the initial credits, once", async () => {
      expect(await ensureAccount(db(), "u1", { initialCredits: 10, email: "a@example.com" })).toEqual({
        created: true,
      });
      expect(await ensureAccount(db(), "u1", { initialCredits: 10, email: "a@example.com" })).toEqual({
        created: false,
      });
      expect(await balance(db(), "u1")).toBe(10);
      const ledger = await ledgerOf(db(), "u1");
      expect(ledger).toMatchObject([{ kind: "grant", amount: 10, reference: initialGrantReference("u1") }]);
    });

    it("grants the initial credits exactly once when 20 first requests race", async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          ensureAccount(db(), "racer", { initialCredits: 10, email: "racer@example.com" }),
        ),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(await balance(db(), "racer")).toBe(10);
      expect((await ledgerOf(db(), "racer")).filter((row) => row.kind === "grant")).toHaveLength(1);
    });

    it("keeps the stored email current so the operator can find the user", async () => {
      await ensureAccount(db(), "u2", { initialCredits: 3, email: "old@example.com" });
      await ensureAccount(db(), "u2", { initialCredits: 3, email: "new@example.com" });
      const rows = await getDb().db.execute(sql`select email from nano_banana.users where id = 'u2'`);
      expect((rows as unknown as { rows: { email: string }[] }).rows[0]?.email).toBe("new@example.com");
      expect(await balance(db(), "u2")).toBe(3);
    });

    it("keeps the stored email when called without one, as the operator CLI does (gap 8)", async () => {
      await ensureAccount(db(), "u3", { initialCredits: 3, email: "kept@example.com" });
      expect(await ensureAccount(db(), "u3", { initialCredits: 3 })).toEqual({ created: false });
      expect(await emailOf("u3")).toBe("kept@example.com");
      // A user first seen without an email gets one later.
      await ensureAccount(db(), "u4", { initialCredits: 3 });
      expect(await emailOf("u4")).toBeNull();
      await ensureAccount(db(), "u4", { initialCredits: 3, email: "late@example.com" });
      expect(await emailOf("u4")).toBe("late@example.com");
    });

    it("creates each user's account on its own, with its own initial grant", async () => {
      await ensureAccount(db(), "u1", { initialCredits: 10 });
      expect(await ensureAccount(db(), "u2", { initialCredits: 4 })).toEqual({ created: true });
      expect(await balance(db(), "u1")).toBe(10);
      expect(await balance(db(), "u2")).toBe(4);
      expect(await ledgerOf(db(), "u2")).toMatchObject([
        { kind: "grant", amount: 4, reference: initialGrantReference("u2") },
      ]);
      expect(initialGrantReference("u2")).toBe("initial:u2");
    });

    it("rejects initial credits that are not a whole, non-negative int4 before writing", async () => {
      for (const bad of [-1, 1.5, 2_147_483_648, Number.NaN]) {
        await expect(ensureAccount(db(), "u1", { initialCredits: bad })).rejects.toBeInstanceOf(RangeError);
      }
      // The operator sees which setting is wrong (CREDITS_INITIAL) and its value.
      await expect(ensureAccount(db(), "u1", { initialCredits: -1 })).rejects.toThrow(
        "initialCredits must be a non-negative integer (got -1)",
      );
      expect(await balance(db(), "u1")).toBeNull();
      expect(await ensureAccount(db(), "u1", { initialCredits: 2_147_483_647 })).toEqual({ created: true });
      expect(await ensureAccount(db(), "u0", { initialCredits: 0 })).toEqual({ created: true });
      expect(await balance(db(), "u0")).toBe(0);
    });
  });

  describe("another user's credits never move (gap 8)", () => {
    /** u1 acts; u2 has an account and history of their own. */
    async function twoUsers() {
      await ensureAccount(db(), "u1", { initialCredits: 10 });
      await ensureAccount(db(), "u2", { initialCredits: 10 });
      const theirs = await newGeneration(db(), "u2", 3);
      await reserve(db(), { userId: "u2", cost: 3, generationId: theirs });
      return theirs;
    }

    it("reserve, capture and release touch only the payer", async () => {
      const theirs = await twoUsers();
      const captured = await newGeneration(db(), "u1", 2);
      expect(await reserve(db(), { userId: "u1", cost: 2, generationId: captured })).toEqual({
        remaining: 8,
      });
      const released = await newGeneration(db(), "u1", 4);
      await reserve(db(), { userId: "u1", cost: 4, generationId: released });
      expect(await capture(db(), captured)).toEqual({ applied: true, amount: 2 });
      expect(await release(db(), released)).toEqual({ applied: true, amount: 4 });
      expect(await balance(db(), "u1")).toBe(8);
      expect(await balance(db(), "u2")).toBe(7);
      expect((await ledgerOf(db(), "u2")).map((r) => r.kind).sort()).toEqual(["grant", "reserve"]);
      await expectLedgerMatchesBalance(db(), "u1");
      await expectLedgerMatchesBalance(db(), "u2");
      // Their job is still theirs to settle.
      expect(await release(db(), theirs)).toEqual({ applied: true, amount: 3 });
      expect(await balance(db(), "u2")).toBe(10);
    });

    it("a grant credits only its user", async () => {
      await twoUsers();
      expect(await grant(db(), { userId: "u1", amount: 5, reference: "t-1" })).toEqual({
        applied: true,
        balance: 15,
      });
      expect(await balance(db(), "u2")).toBe(7);
      expect(await grant(db(), { userId: "u2", amount: 1 })).toEqual({ applied: true, balance: 8 });
      expect(await balance(db(), "u1")).toBe(15);
      await expectLedgerMatchesBalance(db(), "u1");
      await expectLedgerMatchesBalance(db(), "u2");
    });

    it("an insufficient balance reports the payer's balance", async () => {
      await twoUsers();
      const generationId = await newGeneration(db(), "u1", 11);
      await expect(reserve(db(), { userId: "u1", cost: 11, generationId })).rejects.toMatchObject({
        balance: 10,
        cost: 11,
      });
    });
  });

  describe("reserve", () => {
    it("lets exactly 10 of 50 concurrent reserves through on a balance of 10", async () => {
      await ensureAccount(db(), "u1", { initialCredits: 10 });
      const jobs = await Promise.all(Array.from({ length: 50 }, () => newGeneration(db(), "u1")));
      const results = await Promise.allSettled(
        jobs.map((generationId) => reserve(db(), { userId: "u1", cost: 1, generationId })),
      );
      const { fulfilled, rejected } = settledCount(results);
      expect(fulfilled).toBe(10);
      expect(rejected).toHaveLength(40);
      for (const error of rejected) expect(error).toBeInstanceOf(InsufficientCreditsError);
      const remaining = results.flatMap((r) => (r.status === "fulfilled" ? [r.value.remaining] : []));
      expect(remaining.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(await balance(db(), "u1")).toBe(0);
      expect((await ledgerOf(db(), "u1")).filter((row) => row.kind === "reserve")).toHaveLength(10);
      await expectLedgerMatchesBalance(db(), "u1");
    });

    it("refuses a cost above the balance and writes nothing", async () => {
      await ensureAccount(db(), "u1", { initialCredits: 2 });
      const generationId = await newGeneration(db(), "u1", 3);
      const error = await reserve(db(), { userId: "u1", cost: 3, generationId }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InsufficientCreditsError);
      expect(error).toMatchObject({ balance: 2, cost: 3, code: "insufficient_credits" });
      expect(await balance(db(), "u1")).toBe(2);
      expect(await ledgerOf(db(), "u1")).toHaveLength(1); // only the initial grant
    });

    it("treats a user without an account as having no credits", async () => {
      await ensureAccount(db(), "owner", { initialCredits: 5 });
      const generationId = await newGeneration(db(), "owner");
      await expect(reserve(db(), { userId: "nobody", cost: 1, generationId })).rejects.toMatchObject({
        balance: 0,
        cost: 1,
      });
    });

    it("reserves once per generation and undoes the debit of a second attempt", async () => {
      await ensureAccount(db(), "u1", { initialCredits: 5 });
      const generationId = await newGeneration(db(), "u1", 2);
      expect(await reserve(db(), { userId: "u1", cost: 2, generationId })).toEqual({ remaining: 3 });
      await expect(reserve(db(), { userId: "u1", cost: 2, generationId })).rejects.toBeInstanceOf(
        AlreadyReservedError,
      );
      expect(await balance(db(), "u1")).toBe(3);
      await expectLedgerMatchesBalance(db(), "u1");
    });

    it("joins the caller's transaction: the job row and its reserve commit or fail together", async () => {
      await ensureAccount(db(), "u1", { initialCredits: 1 });
      const createJob = () =>
        db().transaction(async (tx) => {
          const generationId = await newGeneration(tx, "u1");
          return reserve(tx, { userId: "u1", cost: 1, generationId });
        });
      expect(await createJob()).toEqual({ remaining: 0 });
      await expect(createJob()).rejects.toBeInstanceOf(InsufficientCreditsError);
      expect(await db().select().from(generations)).toHaveLength(1);
      expect(await balance(db(), "u1")).toBe(0);
      await expectLedgerMatchesBalance(db(), "u1");
    });

    it("rejects a negative or fractional cost before touching the database", async () => {
      await expect(reserve(db(), { userId: "u1", cost: -1, generationId: "x" })).rejects.toBeInstanceOf(
        RangeError,
      );
      await expect(reserve(db(), { userId: "u1", cost: 1.5, generationId: "x" })).rejects.toBeInstanceOf(
        RangeError,
      );
      await expect(reserve(db(), { userId: "u1", cost: -1, generationId: "x" })).rejects.toThrow(
        "cost must be a non-negative integer (got -1)",
      );
    });

    it("passes any other database error on as it is, not as a second reserve, and writes nothing", async () => {
      await ensureAccount(db(), "u1", { initialCredits: 5 });
      // No such job: the ledger row breaks its foreign key (23503), not the unique index (23505).
      const missingJob = "0f0e0d0c-0b0a-4908-8706-050403020100";
      const error = await reserve(db(), { userId: "u1", cost: 2, generationId: missingJob }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(AlreadyReservedError);
      expect(error).not.toBeInstanceOf(InsufficientCreditsError);
      expect(await balance(db(), "u1")).toBe(5);
      expect(await ledgerOf(db(), "u1")).toHaveLength(1); // only the initial grant
    });
  });

  describe("capture and release", () => {
    async function reservedJob(initialCredits = 10, cost = 2) {
      await ensureAccount(db(), "u1", { initialCredits });
      const generationId = await newGeneration(db(), "u1", cost);
      await reserve(db(), { userId: "u1", cost, generationId });
      return generationId;
    }

    it("capture keeps the reserved credits, and applies once even when called concurrently", async () => {
      const generationId = await reservedJob();
      const results = await Promise.all([capture(db(), generationId), capture(db(), generationId)]);
      expect(results.filter((r) => r.applied)).toEqual([{ applied: true, amount: 2 }]);
      expect(await capture(db(), generationId)).toEqual({ applied: false });
      expect(await balance(db(), "u1")).toBe(8);
      await expectLedgerMatchesBalance(db(), "u1");
    });

    it("release gives the credits back once even when called concurrently", async () => {
      const generationId = await reservedJob();
      const results = await Promise.all([release(db(), generationId), release(db(), generationId)]);
      expect(results.filter((r) => r.applied)).toEqual([{ applied: true, amount: 2 }]);
      expect(await release(db(), generationId)).toEqual({ applied: false });
      expect(await balance(db(), "u1")).toBe(10);
      await expectLedgerMatchesBalance(db(), "u1");
    });

    it("never both: after a capture a release changes nothing, and the other way round", async () => {
      const captured = await reservedJob(10, 1);
      expect((await capture(db(), captured)).applied).toBe(true);
      expect(await release(db(), captured)).toEqual({ applied: false });

      const released = await newGeneration(db(), "u1");
      await reserve(db(), { userId: "u1", cost: 1, generationId: released });
      expect((await release(db(), released)).applied).toBe(true);
      expect(await capture(db(), released)).toEqual({ applied: false });

      expect(await balance(db(), "u1")).toBe(9); // 10 − 1 captured
      await expectLedgerMatchesBalance(db(), "u1");
    });

    it("settles each of many racing jobs exactly once (capture and release called together)", async () => {
      await ensureAccount(db(), "u1", { initialCredits: 20 });
      const jobs = await Promise.all(Array.from({ length: 10 }, () => newGeneration(db(), "u1")));
      for (const generationId of jobs) await reserve(db(), { userId: "u1", cost: 1, generationId });
      const outcomes = await Promise.all(
        jobs.map(async (generationId) => {
          const [c1, r1, c2, r2] = await Promise.all([
            capture(db(), generationId),
            release(db(), generationId),
            capture(db(), generationId),
            release(db(), generationId),
          ]);
          return [c1, r1, c2, r2].filter((r) => r.applied).length;
        }),
      );
      expect(outcomes).toEqual(jobs.map(() => 1));
      const ledger = await ledgerOf(db(), "u1");
      for (const generationId of jobs) {
        const settlements = ledger.filter(
          (row) => row.generationId === generationId && (row.kind === "capture" || row.kind === "release"),
        );
        expect(settlements).toHaveLength(1);
      }
      const balanceNow = await expectLedgerMatchesBalance(db(), "u1");
      const releases = ledger.filter((row) => row.kind === "release").length;
      expect(balanceNow).toBe(20 - 10 + releases);
    });

    it("reports nothing to settle for a generation that was never reserved", async () => {
      await ensureAccount(db(), "u1", { initialCredits: 1 });
      const generationId = await newGeneration(db(), "u1");
      expect(await capture(db(), generationId)).toEqual({ applied: false });
      expect(await release(db(), generationId)).toEqual({ applied: false });
      expect(await balance(db(), "u1")).toBe(1);
    });

    it("joins the caller's transaction: a rolled-back settle leaves status and credits untouched", async () => {
      const generationId = await reservedJob(10, 2);
      const settle = (fail: boolean) =>
        db().transaction(async (tx) => {
          await tx
            .update(generations)
            .set({ status: "failed", settledAt: sql`now()` })
            .where(eq(generations.id, generationId));
          const result = await release(tx, generationId);
          if (fail) throw new Error("crash after release");
          return result;
        });

      await expect(settle(true)).rejects.toThrow("crash after release");
      expect(await balance(db(), "u1")).toBe(8);
      const [row] = await db().select().from(generations).where(eq(generations.id, generationId));
      expect(row?.status).toBe("pending");
      expect((await ledgerOf(db(), "u1")).some((r) => r.kind === "release")).toBe(false);

      expect(await settle(false)).toEqual({ applied: true, amount: 2 });
      expect(await balance(db(), "u1")).toBe(10);
      await expectLedgerMatchesBalance(db(), "u1");
    });
  });

  describe("grant", () => {
    it("adds credits, and a repeated reference adds nothing", async () => {
      await ensureAccount(db(), "u1", { initialCredits: 10 });
      expect(await grant(db(), { userId: "u1", amount: 5 })).toEqual({ applied: true, balance: 15 });
      expect(await grant(db(), { userId: "u1", amount: 5, reference: "ticket-42" })).toEqual({
        applied: true,
        balance: 20,
      });
      expect(await grant(db(), { userId: "u1", amount: 5, reference: "ticket-42" })).toEqual({
        applied: false,
        balance: 20,
      });
      await expectLedgerMatchesBalance(db(), "u1");
    });

    it("refuses a user without an account and a non-positive amount", async () => {
      await expect(grant(db(), { userId: "ghost", amount: 5 })).rejects.toBeInstanceOf(UnknownUserError);
      await ensureAccount(db(), "u1", { initialCredits: 0 });
      await expect(grant(db(), { userId: "u1", amount: 0 })).rejects.toBeInstanceOf(RangeError);
      await expect(grant(db(), { userId: "u1", amount: -3 })).rejects.toBeInstanceOf(RangeError);
      // The operator CLI prints these messages.
      await expect(grant(db(), { userId: "u1", amount: 0 })).rejects.toThrow(
        "amount must be a positive integer",
      );
      await expect(grant(db(), { userId: "u1", amount: -3 })).rejects.toThrow(
        "amount must be a non-negative integer (got -3)",
      );
      expect(await balance(db(), "u1")).toBe(0);
    });

    it("reports no balance for an unknown user", async () => {
      expect(await balance(db(), "ghost")).toBeNull();
    });
  });
});
