/**
 * Issue 25 item 1, variations: `n` (1–4) on POST /api/generate makes n KIE tasks grouped by a
 * batchId, each charged on its own delivery: the balance must cover the whole batch up front (else
 * 402, nothing charged), a job the model refuses is released while the others are captured, and one
 * Idempotency-Key answers the same batch on a retry without a new task or charge.
 */
import { and, eq, sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { generations, idempotencyKeys } from "@/lib/db";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { eventually } from "../../helpers/probes";
import {
  type Answer,
  creditsOf,
  generateJson,
  generateMultipart,
  jobLedgerOf,
  kieWork,
  kindsOf,
  pollUntilSettled,
} from "./generateKit";

interface BatchJob {
  taskId: string;
  status: string;
  batchId: string;
  statusUrl: string;
  creditsUsed?: number;
  error?: { code: string; message: string };
}

describeEachDatabase("POST /api/generate with n: variations as a batch", (getDb) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ database: getDb() });
  });
  afterAll(async () => {
    await h?.close();
  });
  afterEach(() => {
    h.sim.setFaults([]);
  });

  const generate = (
    token: string,
    body: Record<string, unknown>,
    options: { prefer?: "wait" | "respond-async"; idempotencyKey?: string } = {},
  ) =>
    generateJson(h, body, {
      token,
      prefer: options.prefer ?? "wait",
      idempotencyKey: options.idempotencyKey,
    });

  async function detail(token: string, taskId: string): Promise<Answer> {
    const response = await h.fetch(`/api/generations/${encodeURIComponent(taskId)}`, { token });
    return { status: response.status, headers: response.headers, body: await response.json() };
  }

  it("n = 4 makes 4 KIE tasks in one batch, and charges 4 × the price once all are delivered", async () => {
    const { token, userId } = await h.signIn();
    const before = kieWork(h);
    const answer = await generate(token, { prompt: "four bananas", n: 4 });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({
      success: true,
      status: "settled",
      creditsUsed: 4,
      remainingCredits: 6,
    });
    const jobs = answer.body.generations as BatchJob[];
    expect(jobs).toHaveLength(4);
    expect(new Set(jobs.map((job) => job.taskId)).size).toBe(4);
    for (const job of jobs) {
      expect(job).toMatchObject({ status: "succeeded", creditsUsed: 1, batchId: answer.body.batchId });
      expect(job.statusUrl).toBe(`/api/generate/${encodeURIComponent(job.taskId)}`);
    }
    expect(kieWork(h).createTask - before.createTask).toBe(4);
    expect(await creditsOf(h, token)).toBe(6);
    expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual([
      ...Array(4).fill("capture"),
      ...Array(4).fill("reserve"),
    ]);

    // The batch's status route: any of its jobs' detail lists the whole batch, in order.
    const read = await detail(token, jobs[2]!.taskId);
    expect(read.status).toBe(200);
    expect(read.body.generation.batchId).toBe(answer.body.batchId);
    expect(read.body.batch.map((job: BatchJob) => job.taskId)).toEqual(jobs.map((job) => job.taskId));
  });

  it("one of 4 refused by the model: 3 charged, 1 released, and the refused one says why", async () => {
    const { token, userId } = await h.signIn();
    h.sim.setFaults("createTask:fail-task=Blocked by the safety filter;times=1");
    const answer = await generate(token, { prompt: "four pears", n: 4 });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const jobs = answer.body.generations as BatchJob[];
    expect(jobs.map((job) => job.status).sort()).toEqual(["failed", "succeeded", "succeeded", "succeeded"]);
    const refused = jobs.find((job) => job.status === "failed") as BatchJob;
    expect(refused.creditsUsed).toBe(0);
    expect(refused.error).toMatchObject({ code: "generation_failed" });
    expect(refused.error?.message).toContain("Blocked by the safety filter");
    expect(answer.body).toMatchObject({ creditsUsed: 3, remainingCredits: 7 });
    expect(await creditsOf(h, token)).toBe(7);
    const ledger = await jobLedgerOf(getDb(), userId);
    expect(kindsOf(ledger)).toEqual([
      "capture",
      "capture",
      "capture",
      "release",
      ...Array(4).fill("reserve"),
    ]);
  });

  it("the same Idempotency-Key answers the same batch: no new KIE task, no new charge", async () => {
    const { token } = await h.signIn();
    const body = { prompt: "three plums", n: 3 };
    const first = await generate(token, body, { prefer: "respond-async", idempotencyKey: "batch-key-1" });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body.status).toBe("pending");
    expect(first.headers.get("location")).toBe(first.body.statusUrl);
    const taskIds = (first.body.generations as BatchJob[]).map((job) => job.taskId);
    expect(taskIds).toHaveLength(3);
    const work = kieWork(h);

    const retry = await generate(token, body, { prefer: "respond-async", idempotencyKey: "batch-key-1" });
    expect(retry.status).toBe(202);
    expect(retry.body.batchId).toBe(first.body.batchId);
    expect((retry.body.generations as BatchJob[]).map((job) => job.taskId)).toEqual(taskIds);
    expect(kieWork(h)).toEqual(work);
    for (const taskId of taskIds)
      expect((await pollUntilSettled(h, token, taskId)).body.status).toBe("succeeded");
    expect(await creditsOf(h, token)).toBe(7);

    // Another n with the same key is another request.
    const other = await generate(token, { ...body, n: 2 }, { idempotencyKey: "batch-key-1" });
    expect(other.status).toBe(422);
  });

  it("a batch the balance cannot cover is 402 with nothing charged or sent", async () => {
    const { token, userId } = await h.signIn();
    expect((await generate(token, { prompt: "first", n: 4 })).status).toBe(200);
    expect((await generate(token, { prompt: "second", n: 4 })).status).toBe(200);
    expect(await creditsOf(h, token)).toBe(2);
    const ledgerBefore = await jobLedgerOf(getDb(), userId);
    const work = kieWork(h);

    const tooMany = await generate(token, { prompt: "third", n: 3 });
    expect(tooMany.status, JSON.stringify(tooMany.body)).toBe(402);
    expect(tooMany.body.error.code).toBe("insufficient_credits");
    expect(await creditsOf(h, token)).toBe(2);
    expect(await jobLedgerOf(getDb(), userId)).toEqual(ledgerBefore);
    expect(kieWork(h)).toEqual(work);
    const history = (await (await h.fetch("/api/generations", { token })).json()) as {
      generations: unknown[];
    };
    expect(history.generations).toHaveLength(8);
  });

  it("n outside 1–4 or not a whole number is 400 saying so, in JSON and multipart", async () => {
    const { token } = await h.signIn();
    const work = kieWork(h);
    for (const n of [0, 5, "x", 2.5]) {
      const refused = await generate(token, { prompt: "a fig", n });
      expect(refused.status, `n=${n}`).toBe(400);
      expect(refused.body.error.message).toContain("n must be a whole number from 1 to 4");
    }
    for (const n of ["5", "x"]) {
      const form = new FormData();
      form.set("prompt", "a fig");
      form.set("n", n);
      const refused = await generateMultipart(h, form, { token, prefer: "wait" });
      expect(refused.status, `multipart n=${n}`).toBe(400);
      expect(refused.body.error.message).toContain("n must be a whole number from 1 to 4");
    }
    expect(kieWork(h)).toEqual(work);
    expect(await creditsOf(h, token)).toBe(10);

    // Multipart takes n as text; n = 1 answers as a single job did before batches.
    const form = new FormData();
    form.set("prompt", "two figs");
    form.set("n", "2");
    const two = await generateMultipart(h, form, { token, prefer: "wait" });
    expect(two.status, JSON.stringify(two.body)).toBe(200);
    expect(two.body.generations).toHaveLength(2);
    const one = await generate(token, { prompt: "one fig", n: 1 });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ status: "succeeded", creditsUsed: 1, taskId: expect.any(String) });
    expect(one.body.generations).toBeUndefined();
  });

  it("a batch request that stopped mid-way: a same-key retry after its lease answers the whole batch, no second one", async () => {
    const harness = await startHarness({ database: getDb(), env: { KIE_POLL_BUDGET_MS: "60000" } });
    try {
      const { token, userId } = await harness.signIn();
      harness.sim.setFaults("recordInfo:hang"); // the sync wait will not come back
      const controller = new AbortController();
      const body = JSON.stringify({ prompt: "a batch that will not come back", n: 3 });
      const headers = { "content-type": "application/json", "idempotency-key": "stopped-batch" };
      void harness
        .fetch("/api/generate", {
          method: "POST",
          token,
          headers: { ...headers, prefer: "wait" },
          body,
          signal: controller.signal,
        })
        .catch(() => undefined);
      const jobs = await eventually(
        "the batch's jobs to have their KIE tasks",
        () => getDb().db.select().from(generations).where(eq(generations.userId, userId)),
        (rows) => rows.length === 3 && rows.every((row) => row.kieTaskId !== null),
      );
      // The first request is gone for good (its instance was frozen or killed); its lease ends.
      await getDb()
        .db.update(idempotencyKeys)
        .set({ expiresAt: sql`now() - interval '1 second'` })
        .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, "stopped-batch")));

      const response = await harness.fetch("/api/generate", {
        method: "POST",
        token,
        headers: { ...headers, prefer: "respond-async" },
        body,
      });
      const answer = await response.json();
      expect(response.status, JSON.stringify(answer)).toBe(202);
      expect(answer.batchId).toBe(jobs[0]?.batchId);
      expect((answer.generations as BatchJob[]).map((job) => job.taskId).sort()).toEqual(
        jobs.map((job) => job.kieTaskId).sort(),
      );
      expect(harness.sim.stats().calls.createTask).toBe(3);
      expect(await creditsOf(harness, token)).toBe(7);
      controller.abort();
    } finally {
      harness.sim.setFaults([]);
      await harness.close();
    }
  });
});

describeEachDatabase("POST /api/generate with n: the line and the sync budget", (getDb) => {
  let h: Harness;
  beforeAll(async () => {
    // About one KIE create per 2 s: a batch's jobs wait in our line for their turns.
    h = await startHarness({
      database: getDb(),
      env: { KIE_CREATE_LIMIT: "2/4s", KIE_POLL_BUDGET_MS: "1500" },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("each job of a batch takes its own create token: the rest wait in line, then all are sent and charged", async () => {
    const { token } = await h.signIn();
    const answer = await generateJson(
      h,
      { prompt: "three quinces", n: 3 },
      { token, prefer: "respond-async" },
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    const jobs = answer.body.generations as (BatchJob & { queuePosition?: number })[];
    expect(jobs.filter((job) => job.queuePosition !== undefined).length).toBeGreaterThanOrEqual(2);
    for (const job of jobs) {
      expect((await pollUntilSettled(h, token, job.taskId, { timeoutMs: 30_000 })).body.status).toBe(
        "succeeded",
      );
    }
    expect(await creditsOf(h, token)).toBe(7);
  });

  it("sync: jobs still open when KIE_POLL_BUDGET_MS runs out are answered as they stand (202), not 504", async () => {
    const { token } = await h.signIn();
    const answer = await generateJson(
      h,
      { prompt: "two slow figs [sim:delay=4000]", n: 2 },
      { token, prefer: "wait" },
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    expect(answer.body).toMatchObject({ status: "pending", creditsUsed: 0 });
    expect(answer.headers.get("location")).toBe(answer.body.statusUrl);
    for (const job of answer.body.generations as BatchJob[]) {
      expect((await pollUntilSettled(h, token, job.taskId, { timeoutMs: 30_000 })).body.status).toBe(
        "succeeded",
      );
    }
    expect(await creditsOf(h, token)).toBe(8);
  });
});
