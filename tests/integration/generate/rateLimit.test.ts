/**
 * The per-user rate limit counts admitted generations only (docs/JOBS.md): with
 * RATE_LIMIT_PER_MINUTE=2 the third admitted generation in a minute is 429 with Retry-After and
 * costs nothing, while requests refused as invalid (400) or unpaid (402) use none of the quota.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grant } from "@/lib/credits";
import type { Database } from "@/lib/db";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { creditsOf, generateJson, jobLedgerOf, kieWork, kindsOf } from "./generateKit";

const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;

describeEachDatabase("POST /api/generate: per-user rate limit", (getDb) => {
  describe("counted in memory", () => rateLimitSuite(getDb, {}));
  describe.skipIf(!TEST_REDIS_URL)(`counted in Redis${TEST_REDIS_URL ? "" : " (needs TEST_REDIS_URL)"}`, () =>
    rateLimitSuite(getDb, { REDIS_URL: TEST_REDIS_URL ?? "" }),
  );
});

function rateLimitSuite(getDb: () => Database, store: Record<string, string>): void {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      database: getDb(),
      env: {
        ...store,
        RATE_LIMIT_PER_MINUTE: "2",
        // Every request here comes from one address (shared in Redis with other runs): not the limit under test.
        RATE_LIMIT_IP_PER_MINUTE: "1000000",
        // New users start with nothing, so a 402 is easy to provoke; credits are granted per test.
        CREDITS_INITIAL: "0",
      },
    });
    if (store.REDIS_URL) expect(await h.app.rateLimiter.ready(2000)).toBe(true);
  });
  afterAll(async () => {
    await h?.close();
  });

  async function userWithCredits(credits: number) {
    const user = await h.signIn();
    if (credits > 0) await grant(h.app.database.db, { userId: user.userId, amount: credits });
    return user;
  }

  function expectRateLimited(res: {
    status: number;
    headers: Headers;
    body: { error: Record<string, unknown> };
  }) {
    expect(res.status, JSON.stringify(res.body)).toBe(429);
    expect(res.body.error.code).toBe("rate_limited");
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.body.error.retryAfterSeconds).toBe(retryAfter);
  }

  it("the third generation in a minute → 429 with Retry-After, not charged, nothing sent to KIE", async () => {
    const { token, userId } = await userWithCredits(5);
    for (let i = 0; i < 2; i++) {
      const res = await generateJson(h, { prompt: `allowed ${i}` }, { token, prefer: "respond-async" });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
    }
    const before = kieWork(h);
    const third = await generateJson(h, { prompt: "one too many" }, { token, prefer: "respond-async" });
    expectRateLimited(third);
    expect(kieWork(h)).toEqual(before);
    expect(await creditsOf(h, token)).toBe(3);
    expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(["reserve", "reserve"]);
  });

  it("400s and 402s use none of the quota: afterwards both generations are still allowed", async () => {
    const { token, userId } = await userWithCredits(0);
    for (let i = 0; i < 3; i++) {
      const invalid = await generateJson(h, { prompt: "" }, { token, prefer: "respond-async" });
      expect(invalid.status).toBe(400);
      const unpaid = await generateJson(h, { prompt: "no credits yet" }, { token, prefer: "respond-async" });
      expect(unpaid.status, JSON.stringify(unpaid.body)).toBe(402);
    }
    await grant(h.app.database.db, { userId, amount: 5 });
    for (let i = 0; i < 2; i++) {
      const res = await generateJson(h, { prompt: `now paid ${i}` }, { token, prefer: "respond-async" });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
    }
    expectRateLimited(await generateJson(h, { prompt: "third" }, { token, prefer: "respond-async" }));
    expect(await creditsOf(h, token)).toBe(3);
  });

  it("once over the limit, a request that would be a 402 is a 429 and still costs nothing", async () => {
    const { token } = await userWithCredits(2);
    for (let i = 0; i < 2; i++) {
      expect(
        (await generateJson(h, { prompt: `spend ${i}` }, { token, prefer: "respond-async" })).status,
      ).toBe(202);
    }
    expectRateLimited(
      await generateJson(h, { prompt: "broke and limited" }, { token, prefer: "respond-async" }),
    );
    expect(await creditsOf(h, token)).toBe(0);
  });

  it("three at once with room for two: two 202, one 429 whose reserve is released", async () => {
    const { token, userId } = await userWithCredits(5);
    const before = kieWork(h).createTask;
    const answers = await Promise.all(
      [0, 1, 2].map((i) => generateJson(h, { prompt: `racing ${i}` }, { token, prefer: "respond-async" })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([202, 202, 429]);
    expectRateLimited(answers.find((a) => a.status === 429) as (typeof answers)[number]);
    expect(kieWork(h).createTask - before).toBe(2);
    expect(await creditsOf(h, token)).toBe(3);
    // Whatever the interleaving, the refused one holds no credit: every reserve beyond two is released.
    const ledger = await jobLedgerOf(getDb(), userId);
    const reserves = ledger.filter((row) => row.kind === "reserve").length;
    const releases = ledger.filter((row) => row.kind === "release").length;
    expect(reserves - releases).toBe(2);
  });

  it("at the limit, a replay of an earlier request (same Idempotency-Key) still gets its answer", async () => {
    const { token } = await userWithCredits(5);
    const first = await generateJson(
      h,
      { prompt: "keyed" },
      { token, prefer: "respond-async", idempotencyKey: "rl-1" },
    );
    expect(first.status).toBe(202);
    expect((await generateJson(h, { prompt: "second" }, { token, prefer: "respond-async" })).status).toBe(
      202,
    );

    const replay = await generateJson(
      h,
      { prompt: "keyed" },
      { token, prefer: "respond-async", idempotencyKey: "rl-1" },
    );
    expect(replay.status, JSON.stringify(replay.body)).toBe(202);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    // New work is still refused.
    expectRateLimited(await generateJson(h, { prompt: "third" }, { token, prefer: "respond-async" }));
    expect(await creditsOf(h, token)).toBe(3);
  });

  it("a batch larger than what is left of the minute is 429 and uses none of it: one more image still goes", async () => {
    const { token, userId } = await userWithCredits(5);
    const first = await generateJson(h, { prompt: "one of two" }, { token, prefer: "respond-async" });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    const before = kieWork(h).createTask;
    expectRateLimited(
      await generateJson(h, { prompt: "two more", n: 2 }, { token, prefer: "respond-async" }),
    );
    expect(kieWork(h).createTask).toBe(before);
    expect(await creditsOf(h, token)).toBe(4);
    // The refused batch counted nothing: the minute's second generation is still there.
    const last = await generateJson(h, { prompt: "two of two" }, { token, prefer: "respond-async" });
    expect(last.status, JSON.stringify(last.body)).toBe(202);
    expect(await creditsOf(h, token)).toBe(3);
    const ledger = await jobLedgerOf(getDb(), userId);
    const held =
      ledger.filter((row) => row.kind === "reserve").length -
      ledger.filter((row) => row.kind === "release").length;
    expect(held).toBe(2);
  });

  it("the limit is per user: another user is not affected", async () => {
    const first = await userWithCredits(3);
    const second = await userWithCredits(3);
    for (let i = 0; i < 2; i++) {
      expect(
        (await generateJson(h, { prompt: `a${i}` }, { token: first.token, prefer: "respond-async" })).status,
      ).toBe(202);
    }
    expectRateLimited(
      await generateJson(h, { prompt: "a3" }, { token: first.token, prefer: "respond-async" }),
    );
    const other = await generateJson(h, { prompt: "b1" }, { token: second.token, prefer: "respond-async" });
    expect(other.status, JSON.stringify(other.body)).toBe(202);
  });
}
