/**
 * The line (docs/JOBS.md "The line", issue 23): a create that finds no KIE create token waits,
 * queued, credits reserved, answered at once with its place; the drain sends it once a token
 * comes, fairly between users, exactly once across instances; a 429 puts it back at the head;
 * a full line refuses (503, nothing charged); a job that waits too long times out, credits back.
 * On the provider port (fake provider) and an in-memory budget; the SQL runs on PGlite and
 * Postgres.
 */
import { eq, sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { AccountRegistry, balance } from "@/lib/credits";
import { findGeneration } from "@/lib/db/generations";
import { generations as generationsTable } from "@/lib/db/schema";
import { LineFullError } from "@/lib/generation/line";
import { problemOf } from "@/lib/problem";
import { describeEachDatabase } from "../../helpers/database";
import { FakeProviderError } from "../../helpers/fakeProvider";
import { INITIAL, lineRequest as request, until, useLineServices } from "./lineKit";

describeEachDatabase("the line for KIE's create budget", (getDb) => {
  const kit = useLineServices(getDb);
  const { service } = kit;

  it("a create without a token is queued, answered at once with its place, and sent once a token comes", async () => {
    const generations = service();
    const first = await generations.create(request("u1", "first"));
    const second = await generations.create(request("u2", "second"));
    expect(kit.provider.created).toHaveLength(0);
    expect(first).toMatchObject({ outcome: "accepted", remainingCredits: INITIAL - 1 });
    expect(first.job).toMatchObject({ status: "pending", queuePosition: 1, etaMs: 500 });
    expect(second.job).toMatchObject({ status: "pending", queuePosition: 2, etaMs: 1_000 });
    const row = await findGeneration(getDb().db, first.job.taskId);
    expect(row?.status).toBe("queued");
    expect(await balance(getDb().db, "u1")).toBe(INITIAL - 1);

    // The status read shows the place too.
    const read = await generations.getForUser("u2", second.job.taskId);
    expect(read?.job).toMatchObject({ status: "pending", queuePosition: 2 });

    kit.budget.give(2);
    await until("both jobs sent", () => kit.provider.created.length === 2);
    expect(kit.provider.created.map((sent) => sent.request.prompt)).toEqual(["first", "second"]);
    await until("both attached", async () =>
      Boolean((await findGeneration(getDb().db, second.job.taskId))?.kieTaskId),
    );
    const after = await generations.getForUser("u1", first.job.taskId);
    expect(after?.job.status).toMatch(/^(pending|processing)$/);
    expect(after?.job.queuePosition).toBeUndefined();
    expect(after?.job.taskId).toBe("fake-task-1"); // KIE's id once the task exists

    kit.provider.succeed("fake-task-1", ["https://results.example/1.png"]);
    const done = await generations.getForUser("u1", first.job.taskId, { waitMs: 10_000 });
    expect(done?.job).toMatchObject({ status: "succeeded", creditsUsed: 1 });
    expect(done?.remainingCredits).toBe(INITIAL - 1);
  });

  it("with a token and nobody waiting, a create goes straight to KIE (nothing queued)", async () => {
    kit.budget.give(1);
    const generations = service();
    const created = await generations.create(request("u1"));
    expect(created.job.taskId).toBe("fake-task-1");
    expect(created.job.queuePosition).toBeUndefined();
    // Someone waiting goes first: a token does not let a newcomer jump the line.
    const queued = await generations.create(request("u1", "queued"));
    expect(queued.job.queuePosition).toBe(1);
  });

  it("is fair between users: one user's batch does not push another user's jobs to the end", async () => {
    const generations = service();
    const { db } = getDb();
    const accounts = new AccountRegistry(db, { initialCredits: 100 });
    await accounts.ensure("busy");
    await accounts.ensure("late");
    for (let i = 0; i < 40; i++) await generations.create(request("busy", `busy-${i}`));
    const late = [];
    for (let i = 0; i < 4; i++) late.push(await generations.create(request("late", `late-${i}`)));
    // Round robin between users: the late user's jobs alternate with the busy one's.
    expect(late.map((created) => created.job.queuePosition)).toEqual([2, 4, 6, 8]);

    kit.budget.give(44);
    await until("every job sent", () => kit.provider.created.length === 44);
    const order = kit.provider.created.map((sent) => sent.request.prompt);
    expect(order.slice(0, 8)).toEqual([
      "busy-0",
      "late-0",
      "busy-1",
      "late-1",
      "busy-2",
      "late-2",
      "busy-3",
      "late-3",
    ]);
    expect(new Set(order).size).toBe(44); // each sent once
  });

  it("a full line refuses a create with 503 and Retry-After, nothing reserved", async () => {
    const generations = service({ queueMax: 2 });
    await generations.create(request("u1", "a"));
    await generations.create(request("u1", "b"));
    const refused = await generations.create(request("u2", "c")).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LineFullError);
    expect(problemOf(refused)).toMatchObject({ code: "service_unavailable", retryAfterSeconds: 1 });
    expect(await balance(getDb().db, "u2")).toBeNull(); // never even opened an account
    const [row] = await getDb()
      .db.select({ n: sql<number>`count(*)::int` })
      .from(generationsTable)
      .where(eq(generationsTable.userId, "u2"));
    expect(row?.n).toBe(0);
  });

  it("a batch of n that the line has no room for is refused whole, nothing reserved: the line never passes KIE_QUEUE_MAX", async () => {
    const generations = service({ queueMax: 3 });
    await generations.create(request("u1", "a"));
    const refused = await generations
      .create({ ...request("u2", "four"), count: 4 })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LineFullError);
    expect(await balance(getDb().db, "u2")).toBeNull();
    expect((await generations.lineStatus()).length).toBe(1);
    // Room for two more: a batch of 2 still enters.
    const two = await generations.create({ ...request("u2", "two"), count: 2 });
    expect(two.outcome).toBe("batch");
    expect((await generations.lineStatus()).length).toBe(3);
  });

  it("a KIE 429 on createTask puts the job back at the head of the line and pauses the budget", async () => {
    kit.budget.give(1);
    const generations = service();
    kit.provider.failCreate = new FakeProviderError("429", { rateLimitedMs: 200 });
    const created = await generations.create(request("u1", "limited"));
    // Not failed, not charged twice: the user's job waits in line.
    expect(created).toMatchObject({ outcome: "accepted", remainingCredits: INITIAL - 1 });
    expect(created.job).toMatchObject({ status: "pending", queuePosition: 1 });
    expect(kit.budget.pauses).toEqual([200]);
    await generations.create(request("u2", "behind"));

    // From the line too: the job goes back to the head, ahead of the one behind it.
    kit.provider.failCreate = new FakeProviderError("429", { rateLimitedMs: 250 });
    kit.budget.give(1);
    await until("the second pause", () => kit.budget.pauses.length === 2);
    expect(kit.budget.pauses[1]).toBe(250);
    const isQueued = async () => (await findGeneration(getDb().db, created.job.taskId))?.status === "queued";
    await until("back in line", isQueued);
    expect((await generations.getForUser("u1", created.job.taskId))?.job.queuePosition).toBe(1);

    kit.budget.give(2);
    await until("both sent", () => kit.provider.created.length === 2);
    expect(kit.provider.created.map((sent) => sent.request.prompt)).toEqual(["limited", "behind"]);
    expect(await balance(getDb().db, "u1")).toBe(INITIAL - 1);
  });

  it("a refusal other than 429 from the line fails the job and releases its credits", async () => {
    const generations = service();
    const created = await generations.create(request("u1"));
    kit.provider.failCreate = new FakeProviderError("bad request");
    kit.budget.give(1);
    await until(
      "the job failed",
      async () => (await findGeneration(getDb().db, created.job.taskId))?.status === "failed",
    );
    expect(await balance(getDb().db, "u1")).toBe(INITIAL);
  });

  it("a database error recording the task KIE created from the line neither fails the job nor releases its credits", async () => {
    // The connection drops just after KIE created the (paid) task: its first UPDATE fails.
    let dropNextUpdate = false;
    const { db } = getDb();
    const flaky = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop === "update" && dropNextUpdate) {
          dropNextUpdate = false;
          return () => {
            throw new Error("connection terminated unexpectedly");
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const createTask = kit.provider.createTask.bind(kit.provider);
    kit.provider.createTask = async (input, options) => {
      const created = await createTask(input, options);
      dropNextUpdate = true;
      return created;
    };
    const generations = service({ db: flaky });
    const queued = await generations.create(request("u1"));
    kit.budget.give(1);
    await until("sent", () => kit.provider.created.length === 1);
    await until(
      "the task attached",
      async () => (await findGeneration(db, queued.job.taskId))?.kieTaskId === "fake-task-1",
    );
    expect((await findGeneration(db, queued.job.taskId))?.status).toBe("pending");
    expect(await balance(db, "u1")).toBe(INITIAL - 1);
    kit.provider.succeed("fake-task-1", ["https://results.example/1.png"]);
    const done = await generations.getForUser("u1", queued.job.taskId, { waitMs: 10_000 });
    expect(done?.job).toMatchObject({ status: "succeeded", creditsUsed: 1 });
    expect(kit.provider.created).toHaveLength(1);
  });

  it("two instances drain one line: every job is sent exactly once", async () => {
    const one = service();
    const two = service();
    for (let i = 0; i < 12; i++) await (i % 2 ? one : two).create(request(`u${i % 3}`, `job-${i}`));
    kit.budget.give(12);
    one.wakeLine();
    two.wakeLine();
    await until("every job sent", () => kit.provider.created.length === 12);
    const attached = async () =>
      (await getDb().db.select().from(generationsTable)).every((row) => row.kieTaskId);
    await until("every task attached", attached);
    const prompts = kit.provider.created.map((sent) => sent.request.prompt);
    expect(new Set(prompts).size).toBe(12);
    const rows = await getDb().db.select().from(generationsTable);
    expect(rows.map((row) => row.status)).toEqual(Array(12).fill("pending"));
  });

  it("a job still in line at KIE_TIMEOUT_MS times out and its credits come back", async () => {
    const generations = service({ jobTimeoutMs: 30_000 });
    const created = await generations.create(request("u1"));
    const { db } = getDb();
    await db
      .update(generationsTable)
      .set({ createdAt: new Date(Date.now() - 31_000) })
      .where(eq(generationsTable.id, created.job.taskId));
    await generations.reconcile();
    const job = await findGeneration(db, created.job.taskId);
    expect(job).toMatchObject({ status: "timeout", errorCode: "upstream_timeout" });
    expect(await balance(db, "u1")).toBe(INITIAL);
    kit.budget.give(1);
    generations.wakeLine();
    expect(kit.provider.created).toHaveLength(0);
  });

  it("a job whose createTask could still be unanswered at KIE_TIMEOUT_MS is not sent: no paid task for a released job", async () => {
    const { db } = getDb();
    const generations = service({ jobTimeoutMs: 60_000, createTaskTimeoutMs: 30_000 });
    const old = await generations.create(request("u1", "old"));
    // It has waited 40 s: a createTask sent now may answer (KIE is slow) after the reconciler
    // timed the job out and released its credits — a task KIE charges us for, nobody pays for.
    const aged = (ms: number) =>
      db
        .update(generationsTable)
        .set({ createdAt: new Date(Date.now() - ms) })
        .where(eq(generationsTable.id, old.job.taskId));
    await aged(40_000);
    await generations.create(request("u2", "fresh"));
    kit.budget.give(2);
    await until("the fresh job sent", () =>
      kit.provider.created.some((sent) => sent.request.prompt === "fresh"),
    );
    expect(kit.provider.created.map((sent) => sent.request.prompt)).toEqual(["fresh"]);

    await aged(61_000);
    await generations.reconcile();
    expect(await findGeneration(db, old.job.taskId)).toMatchObject({ status: "timeout", kieTaskId: null });
    expect(await balance(db, "u1")).toBe(INITIAL);
    expect(kit.provider.created.map((sent) => sent.request.prompt)).toEqual(["fresh"]);
  });

  it("a create whose budget look fails (a database error) waits in line instead of being stranded unsent", async () => {
    const generations = service();
    const takeCreate = kit.budget.takeCreate;
    kit.budget.takeCreate = async () => {
      kit.budget.takeCreate = takeCreate;
      throw new Error("kie_budget: connection terminated unexpectedly");
    };
    // The job exists and its credits are reserved: it must reach KIE once tokens come back.
    const created = await generations.create(request("u1", "stranded"));
    expect(created).toMatchObject({ outcome: "accepted", remainingCredits: INITIAL - 1 });
    expect(created.job).toMatchObject({ status: "pending", queuePosition: 1 });
    kit.budget.give(1);
    generations.wakeLine();
    await until("sent", () => kit.provider.created.length === 1);
    expect(kit.provider.created[0]?.request.prompt).toBe("stranded");
  });

  it("a sync request waits in line, then for its image; past its budget it gets its taskId", async () => {
    const generations = service({ pollBudgetMs: 1_500 });
    const timedOut = await generations.create(request("u1", "no token", "sync"));
    expect(timedOut).toMatchObject({ outcome: "budget_exhausted" });
    expect(timedOut.job).toMatchObject({ status: "pending", queuePosition: 1 });

    const waiting = generations.create(request("u2", "in line", "sync"));
    kit.budget.give(2);
    await until("sent", () => kit.provider.created.length === 2);
    kit.provider.succeed("fake-task-2", ["https://results.example/2.png"]);
    const done = await waiting;
    expect(done).toMatchObject({ outcome: "settled", job: { status: "succeeded" } });
  });
});
