/**
 * Every guard of the money and job statements, violated on purpose (DESIGN.md §4, §5), on PGlite
 * and Postgres. Mutation testing cannot reach these guards: they live in Drizzle operators (eq,
 * gte, isNull…) and SQL text, which Stryker does not mutate. So each row below names one guard and
 * a violation of it; the statement must refuse it and change nothing, for this user or any other.
 *
 * Two users are seeded in every case: `u1` acts, `u2` is the bystander whose balance, ledger and
 * jobs must never move.
 */
import { eq, sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { balance, capture, ensureAccount, grant, release, reserve } from "@/lib/credits";
import { creditLedger, type DbExecutor, type Generation, generations } from "@/lib/db";
import {
  attachKieTask,
  attachLateResult,
  claimRefreshLease,
  claimStaleGenerations,
  findGeneration,
  markProcessing,
} from "@/lib/db/generations";
import { settle } from "@/lib/generation/settle";
import { describeEachDatabase } from "@/tests/helpers/database";

interface World {
  db: DbExecutor;
  /** A job of `userId` with `cost` reserved (and its reserve on the ledger). */
  reservedJob(userId: string, cost?: number): Promise<string>;
  /** A job row without a reserve, in any status (settled ones get settled_at). */
  job(userId: string, values?: Partial<Generation>): Promise<string>;
}

interface Snapshot {
  balances: Record<string, number | null>;
  ledger: string[];
  jobs: string[];
}

async function snapshot(db: DbExecutor): Promise<Snapshot> {
  const ledger = await db.select().from(creditLedger).orderBy(creditLedger.id);
  const jobs = await db.select().from(generations).orderBy(generations.id);
  return {
    balances: { u1: await balance(db, "u1"), u2: await balance(db, "u2") },
    ledger: ledger.map(
      (r) => `${r.userId} ${r.kind} ${r.amount} ${r.generationId ?? "-"} ${r.reference ?? "-"}`,
    ),
    jobs: jobs.map(
      (j) =>
        `${j.id} ${j.userId} ${j.status} ${j.kieTaskId ?? "-"} ${JSON.stringify(j.resultUrls)} ${
          j.refreshedAt?.toISOString() ?? "-"
        }`,
    ),
  };
}

/** One guard and its violation: `violate` runs the statement where the guard must say no. */
interface GuardCase {
  statement: string;
  guard: string;
  /** Brings the world to the point where the guard matters (may do allowed steps). */
  arrange?: (w: World) => Promise<Record<string, string>>;
  violate: (w: World, ids: Record<string, string>) => Promise<unknown>;
  /** What the refused call answers (a resolved value), or `throws` with the error's name. */
  refused: unknown;
}

const throws = (name: string) => ({ throws: name });

const cases: GuardCase[] = [
  {
    statement: "reserve",
    guard: "balance >= cost",
    arrange: async (w) => ({ job: await w.job("u1", { cost: 11 }) }),
    violate: (w, { job }) => reserve(w.db, { userId: "u1", cost: 11, generationId: job! }),
    refused: throws("InsufficientCreditsError"),
  },
  {
    statement: "reserve",
    guard: "user_id = the payer (another user's balance is not spent)",
    // u1 has spent everything; u2 still has credits, which must not pay for u1.
    arrange: async (w) => {
      await w.reservedJob("u1", 10);
      return { job: await w.job("u1", { cost: 1 }) };
    },
    violate: (w, { job }) => reserve(w.db, { userId: "u1", cost: 1, generationId: job! }),
    refused: throws("InsufficientCreditsError"),
  },
  {
    statement: "reserve",
    guard: "one reserve per generation",
    arrange: async (w) => ({ job: await w.reservedJob("u1", 2) }),
    violate: (w, { job }) => reserve(w.db, { userId: "u1", cost: 2, generationId: job! }),
    refused: throws("AlreadyReservedError"),
  },
  {
    statement: "capture",
    guard: "once per generation",
    arrange: async (w) => {
      const job = await w.reservedJob("u1");
      await capture(w.db, job);
      return { job };
    },
    violate: (w, { job }) => capture(w.db, job!),
    refused: { applied: false },
  },
  {
    statement: "capture",
    guard: "never after a release",
    arrange: async (w) => {
      const job = await w.reservedJob("u1");
      await release(w.db, job);
      return { job };
    },
    violate: (w, { job }) => capture(w.db, job!),
    refused: { applied: false },
  },
  {
    statement: "capture",
    guard: "only a reserved generation",
    arrange: async (w) => ({ job: await w.job("u1") }),
    violate: (w, { job }) => capture(w.db, job!),
    refused: { applied: false },
  },
  {
    statement: "release",
    guard: "once per generation",
    arrange: async (w) => {
      const job = await w.reservedJob("u1");
      await release(w.db, job);
      return { job };
    },
    violate: (w, { job }) => release(w.db, job!),
    refused: { applied: false },
  },
  {
    statement: "release",
    guard: "never after a capture",
    arrange: async (w) => {
      const job = await w.reservedJob("u1");
      await capture(w.db, job);
      return { job };
    },
    violate: (w, { job }) => release(w.db, job!),
    refused: { applied: false },
  },
  {
    statement: "release",
    guard: "only a reserved generation (nothing to refund)",
    arrange: async (w) => ({ job: await w.job("u1") }),
    violate: (w, { job }) => release(w.db, job!),
    refused: { applied: false },
  },
  {
    statement: "grant",
    guard: "a reference is used once",
    arrange: async (w) => {
      await grant(w.db, { userId: "u1", amount: 5, reference: "ticket-1" });
      return {};
    },
    violate: (w) => grant(w.db, { userId: "u1", amount: 5, reference: "ticket-1" }),
    refused: { applied: false, balance: 15 },
  },
  {
    statement: "grant",
    guard: "only an existing account",
    violate: (w) => grant(w.db, { userId: "ghost", amount: 5 }),
    refused: throws("UnknownUserError"),
  },
  {
    statement: "settle",
    guard: "status is still open (a settled job is not settled again)",
    arrange: async (w) => {
      const job = await w.reservedJob("u1");
      await settle(w.db, job, { status: "succeeded", resultUrls: ["https://x/a.png"] }, { notify: false });
      return { job };
    },
    violate: (w, { job }) => settle(w.db, job!, { status: "failed" }, { notify: false }),
    refused: undefined,
  },
  {
    statement: "settle",
    guard: "status is still open (a timed-out job is not charged later)",
    arrange: async (w) => {
      const job = await w.reservedJob("u1");
      await settle(w.db, job, { status: "timeout" }, { notify: false });
      return { job };
    },
    violate: (w, { job }) =>
      settle(w.db, job!, { status: "succeeded", resultUrls: ["https://x/a.png"] }, { notify: false }),
    refused: undefined,
  },
  {
    statement: "refresh lease",
    guard: "refreshed_at older than the interval",
    arrange: async (w) => {
      const job = await w.reservedJob("u1");
      await claimRefreshLease(w.db, job, 60_000);
      return { job };
    },
    violate: (w, { job }) => claimRefreshLease(w.db, job!, 60_000),
    refused: false,
  },
  {
    statement: "refresh lease",
    guard: "status is still open",
    arrange: async (w) => ({ job: await w.job("u1", { status: "failed" }) }),
    violate: (w, { job }) => claimRefreshLease(w.db, job!, 0),
    refused: false,
  },
  {
    statement: "attach",
    guard: "kie_task_id is null (one KIE task per job)",
    arrange: async (w) => {
      const job = await w.reservedJob("u1");
      await attachKieTask(w.db, job, "task-first");
      return { job };
    },
    violate: (w, { job }) => attachKieTask(w.db, job!, "task-second"),
    refused: false,
  },
  {
    statement: "attach",
    guard: "id = the job (another job's missing task id is not filled)",
    arrange: async (w) => {
      const job = await w.reservedJob("u1");
      await attachKieTask(w.db, job, "task-first");
      return { job };
    },
    violate: (w) => attachKieTask(w.db, "00000000-0000-4000-8000-000000000000", "task-x"),
    refused: false,
  },
  {
    statement: "late result",
    guard: "status is timeout (a failed job gets no image)",
    arrange: async (w) => ({ job: await w.job("u1", { status: "failed" }) }),
    violate: (w, { job }) => attachLateResult(w.db, job!, ["https://x/late.png"]),
    refused: false,
  },
  {
    statement: "late result",
    guard: "status is timeout (an open job is settled, not patched)",
    arrange: async (w) => ({ job: await w.job("u1") }),
    violate: (w, { job }) => attachLateResult(w.db, job!, ["https://x/late.png"]),
    refused: false,
  },
  {
    statement: "late result",
    guard: "result_urls is null (the first late image stays)",
    arrange: async (w) => {
      const job = await w.job("u1", { status: "timeout" });
      await attachLateResult(w.db, job, ["https://x/first.png"]);
      return { job };
    },
    violate: (w, { job }) => attachLateResult(w.db, job!, ["https://x/second.png"]),
    refused: false,
  },
  {
    statement: "mark processing",
    guard: "status = 'pending' (a settled job stays settled)",
    arrange: async (w) => ({ job: await w.job("u1", { status: "succeeded" }) }),
    violate: (w, { job }) => markProcessing(w.db, job!),
    refused: undefined,
  },
  {
    statement: "reconciler claim",
    guard: "open jobs only",
    arrange: async (w) => ({
      job: await w.job("u1", { status: "timeout", createdAt: new Date(Date.now() - 3_600_000) }),
    }),
    violate: (w) => claimStaleGenerations(w.db, { limit: 10, minAgeMs: 1_800_000, intervalMs: 0 }),
    refused: [],
  },
  {
    statement: "reconciler claim",
    guard: "older than minAge",
    arrange: async (w) => ({ job: await w.job("u1") }),
    violate: (w) => claimStaleGenerations(w.db, { limit: 10, minAgeMs: 60_000, intervalMs: 0 }),
    refused: [],
  },
  {
    statement: "reconciler claim",
    guard: "not refreshed within the interval",
    arrange: async (w) => ({
      job: await w.job("u1", { createdAt: new Date(Date.now() - 3_600_000), refreshedAt: new Date() }),
    }),
    violate: (w) => claimStaleGenerations(w.db, { limit: 10, minAgeMs: 1_800_000, intervalMs: 60_000 }),
    refused: [],
  },
];

describeEachDatabase("every guard refuses its violation and changes nothing", (getDb) => {
  const db = () => getDb().db;

  function world(): World {
    const job = async (userId: string, values: Partial<Generation> = {}) => {
      const status = values.status ?? "pending";
      const [row] = await db()
        .insert(generations)
        .values({
          userId,
          type: "text_to_image",
          model: "google/nano-banana",
          prompt: "a banana",
          cost: 1,
          ...values,
          status,
          settledAt: status === "pending" || status === "processing" ? null : new Date(),
        })
        .returning({ id: generations.id });
      return row!.id;
    };
    return {
      db: db(),
      job,
      reservedJob: async (userId, cost = 1) => {
        const id = await job(userId, { cost });
        await reserve(db(), { userId, cost, generationId: id });
        return id;
      },
    };
  }

  it.each(cases.map((c) => [`${c.statement}: ${c.guard}`, c] as const))("%s", async (_name, c) => {
    for (const user of ["u1", "u2"]) await ensureAccount(db(), user, { initialCredits: 10 });
    const w = world();
    // The bystander has history of their own: a reserved job, a settled one and a KIE task.
    const theirs = await w.reservedJob("u2", 3);
    await attachKieTask(db(), theirs, "their-task");
    await settle(db(), await w.reservedJob("u2", 1), { status: "failed" }, { notify: false });

    const ids = (await c.arrange?.(w)) ?? {};
    const before = await snapshot(db());
    const outcome = await c.violate(w, ids).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    if ("error" in outcome) {
      expect({ throws: (outcome.error as Error).name }).toEqual(c.refused);
    } else {
      expect(outcome.value).toEqual(c.refused);
    }
    expect(await snapshot(db())).toEqual(before);
  });

  it("the ledger always explains every balance after the cases' allowed steps", async () => {
    for (const user of ["u1", "u2"]) await ensureAccount(db(), user, { initialCredits: 10 });
    const w = world();
    const a = await w.reservedJob("u1", 2);
    const b = await w.reservedJob("u1", 3);
    await settle(db(), a, { status: "succeeded", resultUrls: ["https://x/a.png"] }, { notify: false });
    await settle(db(), b, { status: "failed" }, { notify: false });
    await grant(db(), { userId: "u2", amount: 4 });
    expect(await balance(db(), "u1")).toBe(8);
    expect(await balance(db(), "u2")).toBe(14);
    const [row] = await db().select().from(generations).where(eq(generations.id, b));
    expect(row?.status).toBe("failed");
    const kinds = await db()
      .select({ kind: creditLedger.kind })
      .from(creditLedger)
      .where(sql`${creditLedger.generationId} = ${a}`);
    expect(kinds.map((k) => k.kind).sort()).toEqual(["capture", "reserve"]);
    expect(await findGeneration(db(), a)).toMatchObject({
      status: "succeeded",
      resultUrls: ["https://x/a.png"],
    });
  });
});
