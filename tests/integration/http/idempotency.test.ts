import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { queryRows, users } from "@/lib/db";
import { insertGeneration } from "@/lib/db/generations";
import { attachIdempotencyJob, tryClaimIdempotencyKey } from "@/lib/db/idempotency";
import { JobUnansweredError } from "@/lib/generation";
import { ApiError } from "@/lib/http/errors";
import {
  type HeldClaim,
  IDEMPOTENT_REPLAYED_HEADER,
  requestFingerprint,
  withIdempotency,
} from "@/lib/http/idempotency";
import { json } from "@/lib/http/route";
import { describeEachDatabase } from "@/tests/helpers/database";

describeEachDatabase("withIdempotency", (getDb) => {
  const db = () => getDb().db;
  const fingerprint = requestFingerprint({ prompt: "a banana" });

  /** A handler that counts its runs and answers what `answer` says. */
  function handler(answer: () => Promise<Response>) {
    const calls = { count: 0 };
    const run = async () => {
      calls.count++;
      return answer();
    };
    return { calls, run };
  }

  const request = (over: Partial<Parameters<typeof withIdempotency>[0]> = {}) => ({
    db: db(),
    userId: "u1",
    key: "key-1",
    fingerprint,
    requestId: "req-1",
    ...over,
  });

  async function seedUser() {
    await db().insert(users).values({ id: "u1" });
  }

  it("runs once and replays the first response to a retry", async () => {
    await seedUser();
    const { calls, run } = handler(async () =>
      json({ success: true, taskId: "t1", status: "pending", statusUrl: "/api/generate/t1" }, 202, {
        Location: "/api/generate/t1",
      }),
    );
    const first = await withIdempotency(request(), run);
    const second = await withIdempotency(request({ requestId: "req-2" }), run);

    expect(calls.count).toBe(1);
    expect(first.headers.get(IDEMPOTENT_REPLAYED_HEADER)).toBeNull();
    expect(second.status).toBe(202);
    expect(second.headers.get(IDEMPOTENT_REPLAYED_HEADER)).toBe("true");
    expect(second.headers.get("location")).toBe("/api/generate/t1");
    expect(await second.json()).toEqual(await first.json());
  });

  it("answers 422 idempotency_key_reused to the same key with another request", async () => {
    await seedUser();
    const { calls, run } = handler(async () => json({ success: true, taskId: "t1" }));
    await withIdempotency(request(), run);
    await expect(
      withIdempotency(request({ fingerprint: requestFingerprint({ prompt: "a pear" }) }), run),
    ).rejects.toMatchObject({ code: "idempotency_key_reused" });
    expect(calls.count).toBe(1);
  });

  it("answers 409 idempotency_key_in_progress while the first request runs", async () => {
    await seedUser();
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const first = withIdempotency(request(), async () => {
      started();
      await finished;
      return json({ success: true, taskId: "t1" });
    });
    await running;
    const second = withIdempotency(request(), async () => json({ never: true }));
    await expect(second).rejects.toBeInstanceOf(ApiError);
    await expect(second).rejects.toMatchObject({ code: "idempotency_key_in_progress" });
    finish();
    expect((await first).status).toBe(200);
  });

  it.each([
    ["429 rate_limited", () => json({ success: false, error: { code: "rate_limited" } }, 429)],
    [
      "402 insufficient_credits",
      () => json({ success: false, error: { code: "insufficient_credits" } }, 402),
    ],
    [
      "a thrown upstream error (502)",
      () => {
        throw new ApiError("upstream_error");
      },
    ],
    [
      "a thrown unexpected error (500)",
      () => {
        throw new Error("bug");
      },
    ],
  ])("lets the client retry with the same key after %s", async (_what, fail) => {
    await seedUser();
    let attempt = 0;
    const run = async () => (++attempt === 1 ? fail() : json({ success: true, taskId: "t2" }));
    const first = await withIdempotency(request(), run);
    expect(first.status).toBeGreaterThanOrEqual(400);
    const retry = await withIdempotency(request(), run);
    expect(retry.status).toBe(200);
    expect(attempt).toBe(2);
    expect((await withIdempotency(request(), run)).headers.get(IDEMPOTENT_REPLAYED_HEADER)).toBe("true");
  });

  it("stores an error that names a job, so a retry cannot start a second one", async () => {
    await seedUser();
    const { calls, run } = handler(async () => {
      throw new ApiError("upstream_timeout", undefined, { taskId: "job-1" });
    });
    const first = await withIdempotency(request(), run);
    const retry = await withIdempotency(request({ requestId: "req-2" }), run);
    expect(calls.count).toBe(1);
    expect(retry.status).toBe(504);
    const body = await retry.json();
    expect(body).toEqual(await first.json());
    expect(body).toMatchObject({ success: false, error: { code: "upstream_timeout", taskId: "job-1" } });
  });

  describe("a 500 after the job exists (issue 22)", () => {
    /** A run that makes its job (recorded on the claim, as create() does) and then fails. */
    function jobThenFailure(fail: (jobId: string) => never) {
      const made: string[] = [];
      const run = async (claim?: { key: string; claimToken: string }) => {
        const job = await insertGeneration(db(), {
          userId: "u1",
          type: "text_to_image",
          model: "google/nano-banana",
          prompt: "a banana",
          cost: 1,
        });
        made.push(job.id);
        expect(
          await attachIdempotencyJob(db(), { userId: "u1", ...(claim as HeldClaim), generationId: job.id }),
        ).toBe(true);
        return fail(job.id);
      };
      return { made, run };
    }

    it.each([
      [
        "a thrown database error",
        () => {
          throw new Error("connection lost");
        },
      ],
      [
        "a 500 that names the job",
        (jobId: string) => {
          throw new JobUnansweredError(jobId);
        },
      ],
    ])(
      "%s: the retry with the key answers from that job at once, never runs a second",
      async (_what, fail) => {
        await seedUser();
        const { made, run } = jobThenFailure(fail);
        const first = await withIdempotency(request(), run);
        expect(first.status).toBe(500);
        expect(made).toHaveLength(1);

        const held: (HeldClaim | undefined)[] = [];
        const retry = await withIdempotency(request({ requestId: "req-2" }), async (claim) => {
          held.push(claim);
          return json({ success: true, taskId: claim?.generationId, status: "succeeded" });
        });
        expect(retry.status).toBe(200);
        expect(retry.headers.get(IDEMPOTENT_REPLAYED_HEADER)).toBeNull();
        expect(held).toEqual([{ key: "key-1", claimToken: expect.any(String), generationId: made[0] }]);
        expect(made).toHaveLength(1);
        // And that answer is what the key replays from now on.
        const replay = await withIdempotency(request({ requestId: "req-3" }), run);
        expect(replay.headers.get(IDEMPOTENT_REPLAYED_HEADER)).toBe("true");
        expect(await replay.json()).toEqual({ success: true, taskId: made[0], status: "succeeded" });
        expect(made).toHaveLength(1);
      },
    );

    it("the 500 names the job when it can, so the client can follow it", async () => {
      await seedUser();
      const { made, run } = jobThenFailure((jobId) => {
        throw new JobUnansweredError(jobId, { cause: new Error("connection lost") });
      });
      const first = await withIdempotency(request(), run);
      expect(await first.json()).toMatchObject({
        success: false,
        error: { code: "internal_error", taskId: made[0], requestId: "req-1" },
      });
    });
  });

  it("keeps keys apart per user", async () => {
    await db()
      .insert(users)
      .values([{ id: "u1" }, { id: "u2" }]);
    const { calls, run } = handler(async () => json({ success: true, taskId: `t${calls.count}` }));
    await withIdempotency(request({ userId: "u1" }), run);
    const other = await withIdempotency(request({ userId: "u2", fingerprint: "another" }), run);
    expect(calls.count).toBe(2);
    expect(other.headers.get(IDEMPOTENT_REPLAYED_HEADER)).toBeNull();
  });

  it("does nothing without a key", async () => {
    await seedUser();
    const { calls, run } = handler(async () => json({ success: true }));
    await withIdempotency(request({ key: undefined }), run);
    await withIdempotency(request({ key: undefined }), run);
    expect(calls.count).toBe(2);
    expect(await queryRows(db(), sql`SELECT 1 FROM nano_banana.idempotency_keys`)).toEqual([]);
  });
  describe("when recording the outcome fails (gap 9)", () => {
    /** The database, until `broken` is set: from then on every statement fails. */
    function breakable() {
      const state = { broken: false };
      const real = db();
      const proxy = new Proxy(real, {
        get(target, name, receiver) {
          if (name === "execute" && state.broken)
            return async () => Promise.reject(new Error("connection lost"));
          const value = Reflect.get(target, name, receiver);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      return { state, db: proxy };
    }
    function logger() {
      const calls: [string, unknown[]][] = [];
      const log = Object.fromEntries(
        ["info", "warn", "error", "debug"].map((level) => [
          level,
          (...args: unknown[]) => calls.push([level, args]),
        ]),
      ) as unknown as NonNullable<Parameters<typeof withIdempotency>[0]["log"]>;
      return { calls, log };
    }

    it.each([
      ["storing a success", 200, { success: true, taskId: "t1" }],
      ["abandoning a failure", 429, { success: false, error: { code: "rate_limited" } }],
    ])("still answers the response when %s fails, and logs it", async (_what, status, body) => {
      await seedUser();
      const broken = breakable();
      const { calls, log } = logger();
      const response = await withIdempotency(request({ db: broken.db, log }), async () => {
        broken.state.broken = true;
        return json(body, status);
      });
      expect(response.status).toBe(status);
      expect(await response.json()).toEqual(body);
      expect(calls).toContainEqual([
        "error",
        [
          { err: expect.objectContaining({ message: "connection lost" }) },
          "could not record the idempotency key's outcome",
        ],
      ]);
      // The key stays claimed until its lease ends: a retry now is told to wait, not run twice.
      await expect(withIdempotency(request(), async () => json({ again: true }))).rejects.toMatchObject({
        code: "idempotency_key_in_progress",
      });
    });
  });

  it("stores any 2xx, even one that names no task (gap 9)", async () => {
    await seedUser();
    const { calls, run } = handler(async () => json({ success: true, balance: 3 }, 201));
    await withIdempotency(request(), run);
    const replay = await withIdempotency(request(), run);
    expect(calls.count).toBe(1);
    expect(replay.status).toBe(201);
    expect(replay.headers.get(IDEMPOTENT_REPLAYED_HEADER)).toBe("true");
    expect(await replay.json()).toEqual({ success: true, balance: 3 });
  });

  it("stores a 2xx without a JSON body as null, replays it, and says so in the log (gap 9)", async () => {
    await seedUser();
    const warnings: unknown[][] = [];
    const log = {
      info: () => undefined,
      warn: (...args: unknown[]) => warnings.push(args),
      error: () => undefined,
    } as unknown as NonNullable<Parameters<typeof withIdempotency>[0]["log"]>;
    const { calls, run } = handler(async () => new Response("done", { status: 200 }));
    const first = await withIdempotency(request({ log }), run);
    expect(await first.text()).toBe("done");
    expect(warnings).toContainEqual([{ status: 200 }, "a stored idempotent response has no JSON body"]);
    const replay = await withIdempotency(request(), run);
    expect(calls.count).toBe(1);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toBeNull();
  });

  it("warns when the lease ended before the response could be stored", async () => {
    await seedUser();
    const warnings: unknown[][] = [];
    const log = {
      info: () => undefined,
      warn: (...args: unknown[]) => warnings.push(args),
      error: () => undefined,
    } as unknown as NonNullable<Parameters<typeof withIdempotency>[0]["log"]>;
    const response = await withIdempotency(request({ log }), async () => {
      // Someone else takes the key over meanwhile (as after an expired lease).
      await queryRows(
        db(),
        sql`UPDATE nano_banana.idempotency_keys SET created_at = created_at - interval '1 second'`,
      );
      return json({ success: true, taskId: "t1" });
    });
    expect(response.status).toBe(200);
    expect(warnings).toContainEqual(["the idempotency lease ended before the response was stored"]);
  });
  describe("what it tells the log, and what it does without one (issue 17)", () => {
    type Log = NonNullable<Parameters<typeof withIdempotency>[0]["log"]>;
    function recorder() {
      const calls: [string, unknown[]][] = [];
      const log = Object.fromEntries(
        ["info", "warn", "error", "debug"].map((level) => [
          level,
          (...args: unknown[]) => calls.push([level, args]),
        ]),
      ) as unknown as Log;
      return { calls, log };
    }

    it("logs a replay with its status, and nothing else on a plain run and replay", async () => {
      await seedUser();
      const { calls, log } = recorder();
      const run = async () => json({ success: true, taskId: "t1" }, 202);
      await withIdempotency(request({ log }), run);
      expect(calls).toEqual([]); // a fresh claim, a JSON body, stored in time: nothing to say
      await withIdempotency(request({ log }), run);
      expect(calls).toEqual([["info", [{ replayedStatus: 202 }, "idempotent replay"]]]);
    });

    /** A first holder claims key-1, creates its job, and dies: its lease runs out. */
    async function abandonedClaimWithJob() {
      await seedUser();
      const first = await tryClaimIdempotencyKey(db(), { userId: "u1", key: "key-1", fingerprint });
      if (first.outcome !== "claimed") throw new Error("expected a claim");
      const job = await insertGeneration(db(), {
        userId: "u1",
        type: "text_to_image",
        model: "google/nano-banana",
        prompt: "a banana",
        cost: 1,
      });
      const claim = { userId: "u1", key: "key-1", claimToken: first.claimToken, generationId: job.id };
      expect(await attachIdempotencyJob(db(), claim)).toBe(true);
      await queryRows(
        db(),
        sql`UPDATE nano_banana.idempotency_keys SET expires_at = now() - interval '1 second'`,
      );
      return { first, job };
    }

    it("hands the claim to run, and on a take-over the job the dead holder created", async () => {
      const { first, job } = await abandonedClaimWithJob();

      const { calls, log } = recorder();
      const held: unknown[] = [];
      await withIdempotency(request({ log }), async (claim) => {
        held.push(claim);
        return json({ success: true, taskId: job.id }, 202);
      });
      expect(held).toEqual([{ key: "key-1", claimToken: expect.any(String), generationId: job.id }]);
      expect((held[0] as { claimToken: string }).claimToken).not.toBe(first.claimToken);
      expect(calls).toEqual([
        ["warn", [{ jobId: job.id }, "idempotency key taken over; answering from its job"]],
      ]);

      // A fresh key: the claim has no job, and run is told so.
      const fresh: unknown[] = [];
      await withIdempotency(request({ key: "key-2" }), async (claim) => {
        fresh.push(claim);
        return json({ success: true }, 200);
      });
      expect(fresh).toEqual([{ key: "key-2", claimToken: expect.any(String), generationId: null }]);
    });

    it("takes a key over without a logger too: the job the dead holder created is answered", async () => {
      const { job } = await abandonedClaimWithJob();
      const response = await withIdempotency(request(), async (claim) =>
        json({ success: true, taskId: claim?.generationId }, 202),
      );
      expect(response.status).toBe(202);
      expect(await response.json()).toEqual({ success: true, taskId: job.id });
    });

    it("stores and replays a 2xx without a JSON body also without a log", async () => {
      await seedUser();
      const { calls, run } = handler(async () => new Response("done", { status: 200 }));
      expect(await (await withIdempotency(request(), run)).text()).toBe("done");
      const replay = await withIdempotency(request(), run);
      expect(calls.count).toBe(1);
      expect(replay.headers.get(IDEMPOTENT_REPLAYED_HEADER)).toBe("true");
      expect(await replay.json()).toBeNull();
    });

    it("still answers when recording the outcome fails and there is no log", async () => {
      await seedUser();
      const real = db();
      let broken = false;
      const flaky = new Proxy(real, {
        get(target, name, receiver) {
          if (name === "execute" && broken) return async () => Promise.reject(new Error("connection lost"));
          const value = Reflect.get(target, name, receiver);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const response = await withIdempotency(request({ db: flaky }), async () => {
        broken = true;
        return json({ success: true, taskId: "t1" }, 200);
      });
      expect(response.status).toBe(200);
    });
  });
});
