/**
 * Issue 23, sending a job: what its send changes. A job that waited in line is read at KIE on the
 * schedule of a job just sent (its age at KIE, not in line); a task KIE created is recorded
 * through a database blip on the direct path as from the line; a direct create refused with 429
 * goes back to the head of the line, not behind its user's later jobs.
 */
import { eq } from "drizzle-orm";
import { expect, it } from "vitest";
import { balance } from "@/lib/credits";
import type { AppDatabase } from "@/lib/db/client";
import { findGeneration } from "@/lib/db/generations";
import { generations as generationsTable } from "@/lib/db/schema";
import { JobUnansweredError } from "@/lib/generation/errors";
import { describeEachDatabase } from "../../helpers/database";
import { FakeProviderError } from "../../helpers/fakeProvider";
import { INITIAL, lineRequest as request, until, useLineServices } from "./lineKit";

describeEachDatabase("sending a job to KIE", (getDb) => {
  const kit = useLineServices(getDb);

  /** Makes the job look as if it entered the line `ms` ago. */
  const waited = (db: AppDatabase, jobId: string, ms: number) =>
    db
      .update(generationsTable)
      .set({ createdAt: new Date(Date.now() - ms) })
      .where(eq(generationsTable.id, jobId));

  it("a job sent after 40 s in line is polled as soon as one sent at once", async () => {
    const { db } = getDb();
    const generations = kit.service({ jobTimeoutMs: 300_000 });
    const queued = await generations.create(request("u1", "waited"));
    await waited(db, queued.job.taskId, 40_000);
    kit.budget.give(1);
    generations.wakeLine();
    await until("sent", async () => Boolean((await findGeneration(db, queued.job.taskId))?.kieTaskId));

    kit.budget.give(1);
    const direct = await generations.create(request("u2", "direct"));
    expect(direct.outcome).toBe("accepted");
    const fresh = direct.outcome === "accepted" ? direct.pollAfterMs : 0;
    const afterWait = await generations.getForUser("u1", queued.job.taskId);
    // Its first look comes as early as a new job's, not at the pace of a 40-second-old one.
    expect(afterWait?.pollAfterMs).toBeLessThanOrEqual(fresh);
    expect(afterWait?.pollAfterMs).toBeLessThan(2_500);
  });

  it("with callbacks, a job sent after 40 s in line waits for its callback before KIE is read", async () => {
    const { db } = getDb();
    const generations = kit.service({ jobTimeoutMs: 300_000, appUrl: "https://studio.example" });
    const queued = await generations.create(request("u1", "waited"));
    await waited(db, queued.job.taskId, 40_000);
    kit.budget.give(1);
    generations.wakeLine();
    await until("sent", async () => Boolean((await findGeneration(db, queued.job.taskId))?.kieTaskId));
    const readsBefore = kit.provider.reads;
    await generations.getForUser("u1", queued.job.taskId);
    // KIE's callback is still expected: a status read answers from the row (no paid read).
    expect(kit.provider.reads).toBe(readsBefore);
  });

  it("a database error recording a task KIE created on the direct path neither loses the task nor the job", async () => {
    const { db } = getDb();
    let dropNextUpdate = false;
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
    kit.budget.give(1);
    // No APP_URL: no callback would ever adopt the task — the job must record it itself.
    const generations = kit.service({ db: flaky });
    const created = await generations.create(request("u1", "direct"));
    expect(created).toMatchObject({ outcome: "accepted", job: { taskId: "fake-task-1" } });
    kit.provider.succeed("fake-task-1", ["https://results.example/1.png"]);
    const done = await generations.getForUser("u1", created.job.taskId, { waitMs: 10_000 });
    expect(done?.job).toMatchObject({ status: "succeeded", creditsUsed: 1 });
    expect(await balance(db, "u1")).toBe(INITIAL - 1);
  });

  it("a task that cannot be recorded at all is answered with a taskId its status can be read by", async () => {
    const { db } = getDb();
    let failUpdates = false;
    const down = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop === "update" && failUpdates) {
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
      failUpdates = true; // every try at recording the task fails
      return created;
    };
    kit.budget.give(1);
    const generations = kit.service({ db: down });
    const error = await generations.create(request("u1", "direct")).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    failUpdates = false;
    expect(error).toBeInstanceOf(JobUnansweredError);
    // "The job exists: check its status with the taskId" — so that id must find it.
    const job = await generations.getForUser("u1", (error as JobUnansweredError).taskId);
    expect(job?.job).toMatchObject({ status: "pending" });
  });

  it("a direct create refused with 429 goes back to the head of the line, ahead of its user's later jobs", async () => {
    const generations = kit.service();
    kit.budget.give(1);
    const createTask = kit.provider.createTask.bind(kit.provider);
    kit.provider.createTask = async (input, options) => {
      if (input.request.prompt === "first") {
        // While the first create is at KIE, the same user sends two more (no token: they queue).
        await generations.create(request("u1", "second"));
        await generations.create(request("u1", "third"));
        throw new FakeProviderError("429", { rateLimitedMs: 50 });
      }
      return createTask(input, options);
    };
    const first = await generations.create(request("u1", "first"));
    expect(first.job).toMatchObject({ status: "pending", queuePosition: 1 });
    kit.provider.createTask = createTask;
    kit.budget.give(3);
    generations.wakeLine();
    await until("all sent", () => kit.provider.created.length === 3);
    expect(kit.provider.created.map((sent) => sent.request.prompt)).toEqual(["first", "second", "third"]);
  });

  /** KIE refuses the first create with 429; the rest go through. */
  const refuseFirstCreate = () => {
    const createTask = kit.provider.createTask.bind(kit.provider);
    const refusal = { done: false };
    kit.provider.createTask = async (input, options) => {
      if (refusal.done) return createTask(input, options);
      refusal.done = true;
      throw new FakeProviderError("429", { rateLimitedMs: 50 });
    };
    return refusal;
  };
  const budgetStoreDown = () => {
    kit.budget.pauseCreates = async () => {
      throw new Error("budget store: connection lost");
    };
  };

  it("a direct create refused with 429 is still sent when the pause cannot be shared (budget store down)", async () => {
    const generations = kit.service();
    refuseFirstCreate();
    budgetStoreDown();
    kit.budget.give(1);
    const first = await generations.create(request("u1", "first"));
    expect(first.job).toMatchObject({ status: "pending", queuePosition: 1 });
    kit.budget.give(1);
    generations.wakeLine();
    await until("sent", () => kit.provider.created.length === 1, 3_000);
  });

  it("a job from the line refused with 429 is sent again when the pause cannot be shared (budget store down)", async () => {
    const generations = kit.service();
    const refusal = refuseFirstCreate();
    budgetStoreDown();
    await generations.create(request("u1", "queued"));
    kit.budget.give(1);
    generations.wakeLine();
    await until("refused", () => refusal.done, 3_000);
    kit.budget.give(1);
    generations.wakeLine();
    await until("sent", () => kit.provider.created.length === 1, 3_000);
  });

  /** The database, but its next update fails once `armed.on` is set (a dropped connection). */
  const dropsOneUpdate = (db: AppDatabase) => {
    const armed = { on: false };
    const flaky = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop === "update" && armed.on) {
          armed.on = false;
          return () => {
            throw new Error("connection terminated unexpectedly");
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    return { flaky, armed };
  };

  it("a direct create refused with 429 is still sent after a database error putting it back in line", async () => {
    const { flaky, armed } = dropsOneUpdate(getDb().db);
    const generations = kit.service({ db: flaky });
    const refusal = refuseFirstCreate();
    const createTask = kit.provider.createTask;
    kit.provider.createTask = (input, options) =>
      createTask(input, options).catch((error) => {
        armed.on = true;
        throw error;
      });
    kit.budget.give(1);
    await generations.create(request("u1", "first")).catch(() => undefined);
    expect(refusal.done).toBe(true);
    kit.budget.give(1);
    generations.wakeLine();
    await until("sent", () => kit.provider.created.length === 1, 5_000);
  });

  it("a job from the line refused with 429 is sent again after a database error putting it back", async () => {
    const { flaky, armed } = dropsOneUpdate(getDb().db);
    const generations = kit.service({ db: flaky });
    const refusal = refuseFirstCreate();
    const createTask = kit.provider.createTask;
    kit.provider.createTask = (input, options) =>
      createTask(input, options).catch((error) => {
        armed.on = true;
        throw error;
      });
    await generations.create(request("u1", "queued"));
    kit.budget.give(1);
    generations.wakeLine();
    await until("refused", () => refusal.done, 3_000);
    kit.budget.give(1);
    generations.wakeLine();
    await until("sent", () => kit.provider.created.length === 1, 5_000);
  });

  it("createTask's warnings reach the user when the task's callback attached it first", async () => {
    const generations = kit.service({ appUrl: "https://studio.example" });
    kit.provider.createWarnings = ["randomSeed was not sent: the model has no seed"];
    const createTask = kit.provider.createTask.bind(kit.provider);
    kit.provider.createTask = async (input, options) => {
      const created = await createTask(input, options);
      // KIE finishes and calls back before its createTask answer is recorded.
      kit.provider.succeed(created.taskId, ["https://results.example/1.png"]);
      const url = new URL(input.callBackUrl as string);
      const verdict = await generations.verifyCallback({
        jobId: url.searchParams.get("job"),
        token: url.searchParams.get("token"),
        readBody: async () => ({ taskId: created.taskId }),
        requestId: "callback",
      });
      if (!verdict.accepted) throw new Error(`callback refused: ${verdict.reason}`);
      await verdict.process();
      return created;
    };
    kit.budget.give(1);
    const direct = await generations.create(request("u1", "direct"));
    expect(direct.job).toMatchObject({ taskId: "fake-task-1", status: "succeeded" });
    expect([...direct.warnings, ...(direct.job.warnings ?? [])]).toEqual(kit.provider.createWarnings);
  });

  it("what createTask warns about reaches the user of a job sent from the line, once", async () => {
    const generations = kit.service();
    kit.provider.createWarnings = ["randomSeed was not sent: the model has no seed"];
    const queued = await generations.create(request("u1", "queued"));
    expect(queued.warnings).toEqual([]);
    kit.budget.give(2);
    generations.wakeLine();
    await until("sent", () => kit.provider.created.length === 1);
    await until("attached", async () =>
      Boolean((await findGeneration(getDb().db, queued.job.taskId))?.kieTaskId),
    );
    const read = await generations.getForUser("u1", queued.job.taskId);
    expect(read?.job.warnings).toEqual(kit.provider.createWarnings);

    // Sent at once: in the answer's job, not twice once the result adds its own.
    const direct = await generations.create(request("u2", "direct"));
    expect([...direct.warnings, ...(direct.job.warnings ?? [])]).toEqual(kit.provider.createWarnings);
    kit.provider.succeed(direct.job.taskId, ["https://results.example/2.png"]);
    const done = await generations.getForUser("u2", direct.job.taskId, { waitMs: 10_000 });
    expect(done?.job).toMatchObject({ status: "succeeded", warnings: kit.provider.createWarnings });
  });
});
