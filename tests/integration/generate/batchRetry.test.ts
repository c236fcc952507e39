/**
 * Variations (`n`) against a retried request: one Idempotency-Key covers the batch, and a retry
 * after a stopped request answers from the batch — never a second batch or charge, whatever the
 * user did with the batch's jobs meanwhile (DESIGN.md §3).
 */
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generations, idempotencyKeys } from "@/lib/db";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { creditsOf, generateJson, kieWork, pollUntilSettled } from "./generateKit";

describeEachDatabase("POST /api/generate with n: retries of a batch", (getDb) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ database: getDb() });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** The request's instance died before its answer was stored: its claim's lease has ended. */
  async function stopRequest(userId: string, key: string, firstJobId: string) {
    await getDb()
      .db.update(idempotencyKeys)
      .set({
        state: "in_progress",
        responseStatus: null,
        responseBody: null,
        generationId: firstJobId,
        expiresAt: sql`now() - interval '1 second'`,
      })
      .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)));
  }

  async function jobIdsOf(batchId: string): Promise<string[]> {
    const rows = await getDb().db.select().from(generations).where(eq(generations.batchId, batchId));
    const indexOf = (row: (typeof rows)[number]) => (row.params as { batchIndex: number }).batchIndex;
    return rows.sort((a, b) => indexOf(a) - indexOf(b)).map((row) => row.id);
  }

  it("a stopped batch request whose first job the user then deleted: a same-key retry makes no new batch and charges nothing", async () => {
    const { token, userId } = await h.signIn();
    const body = { prompt: "two kiwis", n: 2 };
    const options = { token, prefer: "respond-async" as const, idempotencyKey: "deleted-first" };
    const first = await generateJson(h, body, options);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    const taskIds = (first.body.generations as { taskId: string }[]).map((job) => job.taskId);
    for (const taskId of taskIds)
      expect((await pollUntilSettled(h, token, taskId)).body.status).toBe("succeeded");
    const [firstJobId] = await jobIdsOf(first.body.batchId);
    await stopRequest(userId, "deleted-first", firstJobId as string);
    const deleted = await h.fetch(`/api/generations/${taskIds[0]}`, { method: "DELETE", token });
    expect(deleted.status).toBe(200);
    const work = kieWork(h);
    const credits = await creditsOf(h, token);

    const retry = await generateJson(h, body, options);
    expect(kieWork(h)).toEqual(work);
    expect(await creditsOf(h, token)).toBe(credits);
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    expect(retry.body.batchId).toBe(first.body.batchId);
    expect((retry.body.generations as { taskId: string }[]).map((job) => job.taskId)).toEqual([taskIds[1]]);
  });

  it("a stopped batch request: a same-key retry after the maintenance sweep still answers the batch, no second one", async () => {
    const { token, userId } = await h.signIn();
    const body = { prompt: "three dates", n: 3 };
    const options = { token, prefer: "respond-async" as const, idempotencyKey: "swept" };
    const first = await generateJson(h, body, options);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    const [firstJobId] = await jobIdsOf(first.body.batchId);
    await stopRequest(userId, "swept", firstJobId as string);
    // The timer's sweep (reconciler + expired keys) runs before the client comes back.
    await h.app.sweepJobs();
    const work = kieWork(h);
    const credits = await creditsOf(h, token);

    const retry = await generateJson(h, body, options);
    expect(retry.status, JSON.stringify(retry.body)).toBe(202);
    expect(retry.body.batchId).toBe(first.body.batchId);
    expect(kieWork(h)).toEqual(work);
    expect(await creditsOf(h, token)).toBe(credits);
  });

  it("the same key sent twice at once with n = 4: one batch of 4 tasks and charges, the other 409; another n is 422", async () => {
    const { token } = await h.signIn();
    const body = { prompt: "four figs at once", n: 4 };
    const options = { token, prefer: "respond-async" as const, idempotencyKey: "racing" };
    const work = kieWork(h);
    const answers = await Promise.all([generateJson(h, body, options), generateJson(h, body, options)]);
    // The loser is 409 while the winner runs, or the winner's replayed 202 once it is done.
    expect(answers.filter((answer) => answer.status === 409).length).toBeLessThanOrEqual(1);
    expect(answers.every((answer) => [202, 409].includes(answer.status))).toBe(true);
    expect(new Set(answers.flatMap((answer) => answer.body.batchId ?? [])).size).toBe(1);
    expect(kieWork(h).createTask - work.createTask).toBe(4);
    expect(await creditsOf(h, token)).toBe(6);
    const again = await generateJson(h, { ...body, n: 3 }, options);
    expect(again.status).toBe(422);
  });

  it("a stopped single request whose job the user then deleted: a same-key retry is 404 for that job, nothing new made or charged", async () => {
    const { token, userId } = await h.signIn();
    const body = { prompt: "one lime" };
    const options = { token, prefer: "respond-async" as const, idempotencyKey: "deleted-single" };
    const first = await generateJson(h, body, options);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect((await pollUntilSettled(h, token, first.body.taskId)).body.status).toBe("succeeded");
    const [row] = await getDb().db.select().from(generations).where(eq(generations.userId, userId));
    await stopRequest(userId, "deleted-single", row?.id as string);
    expect((await h.fetch(`/api/generations/${first.body.taskId}`, { method: "DELETE", token })).status).toBe(
      200,
    );
    const work = kieWork(h);
    const credits = await creditsOf(h, token);

    for (let attempt = 0; attempt < 2; attempt++) {
      const retry = await generateJson(h, body, options);
      expect(retry.status, JSON.stringify(retry.body)).toBe(404);
      expect(retry.body.error.code).toBe("not_found");
    }
    expect(kieWork(h)).toEqual(work);
    expect(await creditsOf(h, token)).toBe(credits);
  });
});
