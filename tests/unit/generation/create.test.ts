/**
 * The generation use case on the provider port alone (lib/generation/provider.ts): a fake
 * provider (tests/helpers/fakeProvider.ts), no server and no kie-sim; the SQL runs on PGlite (and
 * on Postgres with TEST_DATABASE_URL).
 */
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { AccountRegistry, balance } from "@/lib/credits";
import { findGeneration } from "@/lib/db/generations";
import { GenerationService, JobEvents, JobInDoubtError } from "@/lib/generation";
import { createLogger } from "@/lib/observability/logger";
import { describeEachDatabase } from "../../helpers/database";
import { createFakeProvider, type FakeProvider, FakeProviderError } from "../../helpers/fakeProvider";

const INITIAL = 20;
const COST = 4;

describeEachDatabase("GenerationService on a fake provider", (getDb) => {
  let provider: FakeProvider;
  let events: JobEvents;

  beforeEach(() => {
    provider = createFakeProvider();
    events = new JobEvents();
  });
  afterEach(() => events.close());

  function service(options: { appUrl?: string } = {}) {
    const { db } = getDb();
    return new GenerationService({
      db,
      provider,
      events,
      logger: createLogger({ level: "silent" }),
      accounts: new AccountRegistry(db, { initialCredits: INITIAL }),
      settings: {
        costPerGeneration: COST,
        textModel: "google/nano-banana",
        editModel: "google/nano-banana-edit",
        pollBudgetMs: 5_000,
        jobTimeoutMs: 60_000,
        appUrl: options.appUrl,
        notifyAcrossInstances: false,
      },
    });
  }

  const request = (userId: string) => ({
    userId,
    request: { prompt: "a banana", images: ["https://example.com/in.png"] },
    files: [{ data: new Blob([new Uint8Array([1, 2, 3])]), mimeType: "image/png", fileName: "mine.png" }],
    mode: "async" as const,
    requestId: "req-1",
  });

  it("reserves, creates the task with the catalogue's model and every image, and captures on success", async () => {
    const generations = service();
    const created = await generations.create(request("user-ok"));
    expect(created.outcome).toBe("accepted");
    expect(created.remainingCredits).toBe(INITIAL - COST);
    expect(provider.created).toHaveLength(1);
    const [sent] = provider.created;
    expect(sent?.model.kieModel).toBe("google/nano-banana-edit");
    expect(sent?.imageUrls).toEqual(["https://example.com/in.png", "https://files.example/mine.png"]);
    expect(sent?.callBackUrl).toBeUndefined();

    const taskId = created.job.taskId;
    provider.succeed(taskId, ["https://results.example/out.png"]);
    const read = await generations.getForUser("user-ok", taskId);
    expect(read?.job.status).toBe("succeeded");
    expect(read?.job.creditsUsed).toBe(COST);
    expect(read?.remainingCredits).toBe(INITIAL - COST);
    expect(provider.reads).toBe(1);
  });

  it("a task the provider fails releases the credits and keeps its message", async () => {
    const generations = service();
    const created = await generations.create(request("user-fail"));
    provider.fail(created.job.taskId, "the prompt was refused");
    const read = await generations.getForUser("user-fail", created.job.taskId);
    expect(read?.job.status).toBe("failed");
    expect(read?.job.error).toEqual({ code: "generation_failed", message: "the prompt was refused" });
    expect(read?.remainingCredits).toBe(INITIAL);
  });

  it("a refused createTask fails the job at once, with the provider's own description, credits back", async () => {
    const generations = service();
    provider.failCreate = new FakeProviderError("refused");
    await expect(generations.create(request("user-refused"))).rejects.toThrow("refused");
    const { db } = getDb();
    expect(await balance(db, "user-refused")).toBe(INITIAL);
    const listed = await generations.list("user-refused", { limit: 5 });
    expect(listed.jobs.map((job) => [job.status, job.error?.message])).toEqual([["failed", "fake: refused"]]);
  });

  it("an ambiguous createTask with callbacks leaves the job pending for its callback", async () => {
    const generations = service({ appUrl: "https://studio.example" });
    provider.failCreate = new FakeProviderError("timed out after sending", { ambiguous: true });
    const error = await generations.create(request("user-doubt")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobInDoubtError);
    const job = await findGeneration(getDb().db, (error as JobInDoubtError).taskId);
    expect(job?.status).toBe("pending");
    expect(await balance(getDb().db, "user-doubt")).toBe(INITIAL - COST);
  });

  it("a callback that arrives before create() attaches its task still settles the job (issue 22 item 8)", async () => {
    const generations = service({ appUrl: "https://studio.example" });
    const hold = () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      return { held, release };
    };
    const createAnswer = hold();
    const callbackRead = hold();
    const callbackReading = hold();
    const { createTask, readTask } = provider;
    // KIE makes the task, runs it to the end and calls back, all before createTask's answer arrives.
    provider.createTask = async (input, options) => {
      const made = await createTask(input, options);
      const task = provider.tasks.get(made.taskId);
      provider.tasks.set(made.taskId, {
        ...task!,
        state: "succeeded",
        resultUrls: ["https://results.example/early.png"],
      });
      await createAnswer.held;
      return made;
    };
    provider.readTask = async (taskId, options) => {
      callbackReading.release();
      await callbackRead.held;
      return readTask(taskId, options);
    };

    const creating = generations.create(request("user-early"));
    await vi.waitFor(() => expect(provider.created).toHaveLength(1));
    const callBackUrl = new URL(provider.created[0]?.callBackUrl as string);
    const jobId = callBackUrl.searchParams.get("job") as string;
    const verdict = await generations.verifyCallback({
      jobId,
      token: callBackUrl.searchParams.get("token"),
      readBody: async () => ({ taskId: "fake-task-1" }),
      requestId: "callback-1",
    });
    if (!verdict.accepted) throw new Error(`callback refused: ${verdict.reason}`);
    const processing = verdict.process();
    await callbackReading.held; // the callback reads KIE's record of the task…
    createAnswer.release(); // …while create() gets its answer and attaches the task first
    expect((await creating).outcome).toBe("accepted");
    callbackRead.release();
    await processing;

    const job = await findGeneration(getDb().db, jobId);
    expect(job).toMatchObject({ status: "succeeded", kieTaskId: "fake-task-1" });
    expect(job?.resultUrls).toEqual(["https://results.example/early.png"]);
    expect(await balance(getDb().db, "user-early")).toBe(INITIAL - COST);
    expect(provider.reads).toBe(1); // settled by the callback's own read, nobody polled
  });

  it("learns how long a model's jobs take: after three successes its new jobs are polled to that time", async () => {
    const generations = service();
    const first = await generations.create(request("user-learn"));
    expect(first.outcome === "accepted" && first.pollAfterMs).toBe(1_500); // by age: nothing known yet
    provider.succeed(first.job.taskId, ["https://results.example/0.png"], 1_000);
    await generations.getForUser("user-learn", first.job.taskId);
    for (let i = 1; i < 3; i++) {
      const created = await generations.create(request("user-learn"));
      provider.succeed(created.job.taskId, [`https://results.example/${i}.png`], 1_000);
      await generations.getForUser("user-learn", created.job.taskId);
    }
    // The provider ran each in a second, so the next one is read as soon as the shortest interval allows.
    const next = await generations.create(request("user-learn"));
    expect(next.outcome === "accepted" && next.pollAfterMs).toBe(1_200);
    // Another model has no history yet.
    const text = await generations.create({
      ...request("user-learn"),
      files: [],
      request: { prompt: "a pear" },
    });
    expect(text.outcome === "accepted" && text.pollAfterMs).toBe(1_500);
  });
});
