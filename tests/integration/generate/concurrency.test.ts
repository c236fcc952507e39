/**
 * Parallel requests cannot overdraw (DESIGN.md §4): 12 generations at once on a balance of 3 get
 * exactly three 202 and nine 402, the balance ends at 0, and exactly three tasks reach KIE.
 * On Postgres the requests really run at once (a pool of connections); PGlite serialises them.
 */
import { and, eq } from "drizzle-orm";
import { expect, it } from "vitest";
import { issueDevToken } from "@/lib/auth";
import { creditLedger } from "@/lib/db";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { creditsOf, generateJson, jobLedgerOf, kieWork, kindsOf } from "./generateKit";

const PARALLEL = 12;
const BALANCE = 3;

describeEachDatabase("POST /api/generate: parallel requests on a small balance", (getDb) => {
  const h = useHarness(() => ({
    database: getDb(),
    // Only the credits may limit here, not the rate limits.
    env: {
      CREDITS_INITIAL: String(BALANCE),
      RATE_LIMIT_PER_MINUTE: "1000",
      RATE_LIMIT_IP_PER_MINUTE: "1000",
    },
  }));

  it(`${PARALLEL} at once on a balance of ${BALANCE}: three 202, nine 402, balance 0, three KIE tasks`, async () => {
    const { token, userId } = await h.signIn();
    const before = kieWork(h).createTask;
    const tasksBefore = h.sim.tasks().length;

    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        generateJson(h, { prompt: `parallel banana ${i}` }, { token, prefer: "respond-async" }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses, JSON.stringify(answers.map((a) => a.body))).toEqual([
      ...Array(BALANCE).fill(202),
      ...Array(PARALLEL - BALANCE).fill(402),
    ]);
    for (const refused of answers.filter((a) => a.status === 402)) {
      expect(refused.body.error.code).toBe("insufficient_credits");
    }
    const accepted = answers.filter((a) => a.status === 202);
    expect(new Set(accepted.map((a) => a.body.taskId)).size).toBe(BALANCE);
    // Each accepted answer reports a balance no other accepted answer reports.
    expect(accepted.map((a) => a.body.remainingCredits).sort()).toEqual([0, 1, 2]);

    expect(await creditsOf(h, token)).toBe(0);
    expect(kieWork(h).createTask - before).toBe(BALANCE);
    expect(h.sim.tasks().length - tasksBefore).toBe(BALANCE);
    expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(Array(BALANCE).fill("reserve"));
  });

  it("the same, as the user's very first requests (no account yet): one initial grant, still three 202", async () => {
    // A token issued without signing in: the first generate requests create the account.
    const { accessToken: token, user } = await issueDevToken(
      { email: `first-${Date.now()}@example.com` },
      h.app.devSecret as Uint8Array,
    );
    const before = kieWork(h).createTask;
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        generateJson(h, { prompt: `first banana ${i}` }, { token, prefer: "respond-async" }),
      ),
    );
    expect(answers.map((a) => a.status).sort(), JSON.stringify(answers.map((a) => a.body))).toEqual([
      ...Array(BALANCE).fill(202),
      ...Array(PARALLEL - BALANCE).fill(402),
    ]);
    expect(await creditsOf(h, token)).toBe(0);
    expect(kieWork(h).createTask - before).toBe(BALANCE);
    const grants = await getDb()
      .db.select()
      .from(creditLedger)
      .where(and(eq(creditLedger.userId, user.id), eq(creditLedger.kind, "grant")));
    expect(grants).toHaveLength(1);
  });
});
