/**
 * A batch's jobs are sent one after the other; a sync request still answers by its deadline
 * (KIE_POLL_BUDGET_MS, DESIGN.md §3): once it has passed, the jobs not sent yet wait in the line
 * (its drain sends them) instead of holding the answer for n slow createTasks in a row.
 */
import { eq } from "drizzle-orm";
import { afterEach, expect, it } from "vitest";
import { AccountRegistry, balance } from "@/lib/credits";
import { generations } from "@/lib/db";
import { GenerationService, JobEvents } from "@/lib/generation";
import { createLogger } from "@/lib/observability/logger";
import { describeEachDatabase } from "../../helpers/database";
import { createFakeProvider } from "../../helpers/fakeProvider";
import { until } from "./lineKit";

const INITIAL = 10;

describeEachDatabase("a batch against its sync deadline", (getDb) => {
  const events = new JobEvents();
  const services: GenerationService[] = [];
  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.close()));
    events.close();
  });

  it("with slow creates, the jobs not sent by the deadline wait in line and are sent from there", async () => {
    const { db } = getDb();
    const provider = createFakeProvider();
    // The clock moves only as KIE takes its time: each createTask takes 600 ms of a 1 s budget,
    // and the third and later ones are held until the test lets them go.
    const clock = { now: Date.now() };
    let letGo = () => {};
    const held = new Promise<void>((resolve) => {
      letGo = resolve;
    });
    let calls = 0;
    const create = provider.createTask.bind(provider);
    provider.createTask = async (input, options) => {
      clock.now += 600;
      if (++calls > 2) await held;
      return create(input, options);
    };
    const service = new GenerationService({
      db,
      provider,
      events,
      logger: createLogger({ level: "silent" }),
      accounts: new AccountRegistry(db, { initialCredits: INITIAL }),
      settings: {
        costPerGeneration: 1,
        textModel: "google/nano-banana",
        editModel: "google/nano-banana-edit",
        pollBudgetMs: 1_000,
        jobTimeoutMs: 600_000,
        notifyAcrossInstances: false,
      },
      now: () => clock.now,
    });
    services.push(service);

    let answered = false;
    const creating = service
      .create({
        userId: "user-slow",
        request: { prompt: "four slow bananas" },
        files: [],
        count: 4,
        mode: "sync",
        requestId: "req-slow",
      })
      .finally(() => {
        answered = true;
      });
    // Two creates fit before the deadline; the answer does not wait for the other two.
    const waited = await until("the answer, while the other creates are held", () => answered).catch(
      (error: unknown) => error,
    );
    const sentByTheAnswer = provider.created.length;
    letGo();
    const answer = await creating;
    expect(waited).toBeUndefined();
    expect(sentByTheAnswer).toBe(2);
    expect(answer.outcome).toBe("batch");
    const jobs = answer.outcome === "batch" ? answer.jobs : [];
    expect(jobs.map((job) => job.status)).toEqual(["pending", "pending", "pending", "pending"]);
    expect(await balance(db, "user-slow")).toBe(INITIAL - 4);
    // The line sends the rest, each once.
    await until("the line to send the other two", () => provider.created.length === 4);
    await until("every job to have its own task", async () => {
      const rows = await db.select().from(generations).where(eq(generations.userId, "user-slow"));
      return new Set(rows.flatMap((row) => row.kieTaskId ?? [])).size === 4;
    });
  });
});
