import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { type DbExecutor, generations, queryRows, users } from "@/lib/db";
import {
  abandonIdempotencyKey,
  attachIdempotencyJob,
  completeIdempotencyKey,
  detachIdempotencyJob,
  IDEMPOTENCY_LEASE_MS,
  IDEMPOTENCY_TTL_MS,
  type IdempotencyClaim,
  purgeExpiredIdempotencyKeys,
  tryClaimIdempotencyKey,
} from "@/lib/db/idempotency";
import { describeEachDatabase } from "@/tests/helpers/database";

const T0 = new Date("2030-01-01T00:00:00.000Z");
const later = (ms: number) => new Date(T0.getTime() + ms);
const MINUTE = 60_000;

async function addUsers(db: DbExecutor, ...ids: string[]) {
  await db.insert(users).values(ids.map((id) => ({ id })));
}

function claimTokenOf(claim: IdempotencyClaim): string {
  if (claim.outcome !== "claimed") throw new Error(`expected a claim, got ${claim.outcome}`);
  return claim.claimToken;
}

describeEachDatabase("idempotency keys", (getDb) => {
  const db = () => getDb().db;
  const claim = (userId: string, key: string, fingerprint: string, now = T0) =>
    tryClaimIdempotencyKey(db(), { userId, key, fingerprint, now });

  it("replays the completed response to the same request, with its job", async () => {
    await addUsers(db(), "u1");
    const [job] = await db()
      .insert(generations)
      .values({ userId: "u1", type: "text_to_image", model: "google/nano-banana", prompt: "p", cost: 1 })
      .returning({ id: generations.id });
    const claimToken = claimTokenOf(await claim("u1", "k1", "fp-a"));
    const body = { success: true, taskId: job!.id, status: "pending", nested: { list: [1, "two", null] } };
    expect(
      await completeIdempotencyKey(db(), {
        userId: "u1",
        key: "k1",
        claimToken,
        status: 202,
        body,
        generationId: job!.id,
      }),
    ).toBe(true);

    const replay = await claim("u1", "k1", "fp-a", later(MINUTE));
    expect(replay).toEqual({ outcome: "replay", status: 202, body, generationId: job!.id });
    // And again: a replay does not consume anything.
    expect(await claim("u1", "k1", "fp-a", later(2 * MINUTE))).toEqual(replay);
  });

  it("refuses the key for a different request, while running and after completion", async () => {
    await addUsers(db(), "u1");
    const claimToken = claimTokenOf(await claim("u1", "k1", "fp-a"));
    expect(await claim("u1", "k1", "fp-b")).toEqual({ outcome: "fingerprint_mismatch" });
    await completeIdempotencyKey(db(), { userId: "u1", key: "k1", claimToken, status: 200, body: {} });
    expect(await claim("u1", "k1", "fp-b", later(MINUTE))).toEqual({ outcome: "fingerprint_mismatch" });
  });

  it("answers in_progress to the same request while the first one runs", async () => {
    await addUsers(db(), "u1");
    claimTokenOf(await claim("u1", "k1", "fp-a"));
    expect(await claim("u1", "k1", "fp-a", later(MINUTE))).toEqual({ outcome: "in_progress" });
  });

  it("gives one key to exactly one of 20 concurrent claims", async () => {
    await addUsers(db(), "u1");
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        tryClaimIdempotencyKey(db(), { userId: "u1", key: "race", fingerprint: "fp" }),
      ),
    );
    const outcomes = results.map((r) => r.outcome);
    expect(outcomes.filter((o) => o === "claimed")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "in_progress")).toHaveLength(19);
  });

  it("gives one expired key to exactly one of 20 concurrent claims", async () => {
    await addUsers(db(), "u1");
    const first = claimTokenOf(await claim("u1", "race", "fp"));
    await completeIdempotencyKey(db(), {
      userId: "u1",
      key: "race",
      claimToken: first,
      status: 200,
      body: {},
    });
    const afterTtl = later(IDEMPOTENCY_TTL_MS + 1);
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        tryClaimIdempotencyKey(db(), { userId: "u1", key: "race", fingerprint: "fp", now: afterTtl }),
      ),
    );
    const outcomes = results.map((r) => r.outcome);
    expect(outcomes.filter((o) => o === "claimed")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "in_progress")).toHaveLength(19);
  });

  it("scopes keys to the user", async () => {
    await addUsers(db(), "u1", "u2");
    const u1Token = claimTokenOf(await claim("u1", "shared", "fp-a"));
    const u2Token = claimTokenOf(await claim("u2", "shared", "fp-b"));
    await completeIdempotencyKey(db(), {
      userId: "u1",
      key: "shared",
      claimToken: u1Token,
      status: 200,
      body: { who: "u1" },
    });
    await completeIdempotencyKey(db(), {
      userId: "u2",
      key: "shared",
      claimToken: u2Token,
      status: 201,
      body: { who: "u2" },
    });
    expect(await claim("u1", "shared", "fp-a")).toMatchObject({ status: 200, body: { who: "u1" } });
    expect(await claim("u2", "shared", "fp-b")).toMatchObject({ status: 201, body: { who: "u2" } });
  });

  it("forgets a completed key after its ttl, counted from the claim", async () => {
    await addUsers(db(), "u1");
    const claimToken = claimTokenOf(await claim("u1", "k1", "fp-a"));
    await completeIdempotencyKey(db(), { userId: "u1", key: "k1", claimToken, status: 200, body: { n: 1 } });
    expect(await claim("u1", "k1", "fp-b", later(IDEMPOTENCY_TTL_MS - 1))).toEqual({
      outcome: "fingerprint_mismatch",
    });
    // After 24 h the key is new again, whatever the request.
    const second = await claim("u1", "k1", "fp-b", later(IDEMPOTENCY_TTL_MS));
    expect(second.outcome).toBe("claimed");
    expect(await claim("u1", "k1", "fp-b", later(IDEMPOTENCY_TTL_MS + MINUTE))).toEqual({
      outcome: "in_progress",
    });
  });

  it("frees an abandoned key at once, for the same or another request", async () => {
    await addUsers(db(), "u1");
    const claimToken = claimTokenOf(await claim("u1", "k1", "fp-a"));
    expect(await abandonIdempotencyKey(db(), { userId: "u1", key: "k1", claimToken })).toBe(true);
    expect((await claim("u1", "k1", "fp-a")).outcome).toBe("claimed");
  });

  describe("a claim that holds a job (issue 22)", () => {
    async function claimWithJob(over: Partial<typeof generations.$inferInsert> = {}) {
      await addUsers(db(), "u1");
      const claimToken = claimTokenOf(await claim("u1", "k1", "fp-a"));
      const [job] = await db()
        .insert(generations)
        .values({
          userId: "u1",
          type: "text_to_image",
          model: "google/nano-banana",
          prompt: "p",
          cost: 1,
          ...over,
        })
        .returning({ id: generations.id });
      const held = { userId: "u1", key: "k1", claimToken, generationId: job!.id };
      expect(await attachIdempotencyJob(db(), held)).toBe(true);
      return held;
    }

    it("is never deleted: abandoning it ends its lease, and the retry takes it over with the job", async () => {
      const held = await claimWithJob();
      expect(await abandonIdempotencyKey(db(), held)).toBe(true);
      const [row] = await queryRows<{ generation_id: string; state: string }>(
        db(),
        sql`SELECT generation_id, state FROM nano_banana.idempotency_keys`,
      );
      expect(row).toEqual({ generation_id: held.generationId, state: "in_progress" });
      const retry = await tryClaimIdempotencyKey(db(), { userId: "u1", key: "k1", fingerprint: "fp-a" });
      expect(retry).toMatchObject({ outcome: "claimed", generationId: held.generationId });
      // Abandoned again by its old holder: nothing, the key is the retry's now.
      expect(await abandonIdempotencyKey(db(), held)).toBe(false);
      expect(await tryClaimIdempotencyKey(db(), { userId: "u1", key: "k1", fingerprint: "fp-a" })).toEqual({
        outcome: "in_progress",
      });
    });

    it("lets go of its job only once the job failed without reaching the provider", async () => {
      const held = await claimWithJob();
      expect(await detachIdempotencyJob(db(), held)).toBe(false); // open
      await db().update(generations).set({ status: "failed", kieTaskId: "kie-1", settledAt: new Date() });
      expect(await detachIdempotencyJob(db(), held)).toBe(false); // KIE had it
      await db().update(generations).set({ status: "succeeded", kieTaskId: null });
      expect(await detachIdempotencyJob(db(), held)).toBe(false); // delivered
      await db().update(generations).set({ status: "failed" });
      expect(await detachIdempotencyJob(db(), { ...held, claimToken: "2000-01-01 00:00:00+00" })).toBe(false);
      expect(await detachIdempotencyJob(db(), { ...held, userId: "u2" })).toBe(false);
      expect(await detachIdempotencyJob(db(), held)).toBe(true);
      // Now nothing ties the key: abandoning it frees it for a fresh run.
      expect(await abandonIdempotencyKey(db(), held)).toBe(true);
      expect(await queryRows(db(), sql`SELECT 1 FROM nano_banana.idempotency_keys`)).toEqual([]);
    });
  });

  it("lets another request take over a stale claim, and fences off the old holder", async () => {
    await addUsers(db(), "u1");
    const crashed = claimTokenOf(await claim("u1", "k1", "fp-a"));
    expect(await claim("u1", "k1", "fp-a", later(IDEMPOTENCY_LEASE_MS - 1))).toEqual({
      outcome: "in_progress",
    });
    const retry = claimTokenOf(await claim("u1", "k1", "fp-a", later(IDEMPOTENCY_LEASE_MS)));
    expect(retry).not.toBe(crashed);

    // The first holder wakes up late: it can neither overwrite nor release the new claim.
    expect(
      await completeIdempotencyKey(db(), {
        userId: "u1",
        key: "k1",
        claimToken: crashed,
        status: 200,
        body: { from: "stale" },
      }),
    ).toBe(false);
    expect(await abandonIdempotencyKey(db(), { userId: "u1", key: "k1", claimToken: crashed })).toBe(false);
    expect(await claim("u1", "k1", "fp-a", later(IDEMPOTENCY_LEASE_MS + 1))).toEqual({
      outcome: "in_progress",
    });

    expect(
      await completeIdempotencyKey(db(), {
        userId: "u1",
        key: "k1",
        claimToken: retry,
        status: 200,
        body: { from: "retry" },
      }),
    ).toBe(true);
    expect(await claim("u1", "k1", "fp-a", later(IDEMPOTENCY_LEASE_MS + MINUTE))).toMatchObject({
      outcome: "replay",
      body: { from: "retry" },
    });
  });

  it("keeps a completed response for its ttl even past the lease", async () => {
    await addUsers(db(), "u1");
    const claimToken = claimTokenOf(await claim("u1", "k1", "fp-a"));
    await completeIdempotencyKey(db(), { userId: "u1", key: "k1", claimToken, status: 200, body: {} });
    expect((await claim("u1", "k1", "fp-a", later(IDEMPOTENCY_LEASE_MS * 2))).outcome).toBe("replay");
  });

  it("claims with the database clock when no time is given", async () => {
    await addUsers(db(), "u1");
    const claimToken = claimTokenOf(
      await tryClaimIdempotencyKey(db(), { userId: "u1", key: "k", fingerprint: "f" }),
    );
    const [row] = await queryRows<{ lease_seconds: number; token_matches: boolean }>(
      db(),
      sql`SELECT extract(epoch from expires_at - created_at)::float8 AS lease_seconds,
                 created_at = ${claimToken}::timestamptz AS token_matches
          FROM nano_banana.idempotency_keys`,
    );
    expect(row).toEqual({ lease_seconds: IDEMPOTENCY_LEASE_MS / 1000, token_matches: true });
    expect(await abandonIdempotencyKey(db(), { userId: "u1", key: "k", claimToken })).toBe(true);
  });

  it("purges expired keys and stale claims, and nothing else", async () => {
    await addUsers(db(), "u1");
    const done = claimTokenOf(await claim("u1", "done", "fp"));
    await completeIdempotencyKey(db(), {
      userId: "u1",
      key: "done",
      claimToken: done,
      status: 200,
      body: {},
    });
    claimTokenOf(await claim("u1", "stale", "fp"));
    claimTokenOf(await claim("u1", "fresh", "fp", later(IDEMPOTENCY_TTL_MS)));

    expect(await purgeExpiredIdempotencyKeys(db(), { now: later(IDEMPOTENCY_LEASE_MS) })).toBe(1);
    expect(await purgeExpiredIdempotencyKeys(db(), { now: later(IDEMPOTENCY_TTL_MS + 1) })).toBe(1);
    const left = await queryRows<{ key: string }>(db(), sql`SELECT key FROM nano_banana.idempotency_keys`);
    expect(left).toEqual([{ key: "fresh" }]);
  });

  it("purges in batches of at most `limit`", async () => {
    await addUsers(db(), "u1");
    for (const key of ["a", "b", "c"]) await claim("u1", key, "fp");
    const afterLease = later(IDEMPOTENCY_LEASE_MS);
    expect(await purgeExpiredIdempotencyKeys(db(), { now: afterLease, limit: 2 })).toBe(2);
    expect(await purgeExpiredIdempotencyKeys(db(), { now: afterLease, limit: 2 })).toBe(1);
    expect(await purgeExpiredIdempotencyKeys(db(), { now: afterLease, limit: 2 })).toBe(0);
  });

  it("refuses a key over 255 characters", async () => {
    await expect(
      tryClaimIdempotencyKey(db(), { userId: "u1", key: "k".repeat(256), fingerprint: "f" }),
    ).rejects.toThrow(RangeError);
  });
});
