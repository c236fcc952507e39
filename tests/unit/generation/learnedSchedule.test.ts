/**
 * The learned poll schedule over many jobs (issue 22 item 7): what it learns is the model's true
 * duration (the provider's own), however late our copy or settlement comes. Learning our
 * settledAt − createdAt instead made the schedule drift later cycle after cycle.
 */
import { sql } from "drizzle-orm";
import { afterEach, expect, it } from "vitest";
import { AccountRegistry } from "@/lib/credits";
import { queryRows } from "@/lib/db";
import { GenerationService, JobEvents } from "@/lib/generation";
import { LEAD_MS } from "@/lib/generation/pollSchedule";
import { createLogger } from "@/lib/observability/logger";
import { describeEachDatabase } from "../../helpers/database";
import { createFakeProvider } from "../../helpers/fakeProvider";

/** How long the model really takes, by the provider's clock. */
const TRUE_MS = 10_000;
/**
 * How old each job is when it is seen ended, cycle after cycle: a copy of half a second, a
 * callback read after its 15 s grace, a late poll, the reconciler's sweep.
 */
const SEEN_AT_AGE_MS = [10_500, 15_000, 18_000, 27_000];

describeEachDatabase("the learned poll schedule", (getDb) => {
  const events = new JobEvents();
  afterEach(() => events.close());

  /** A service on a fake provider; `clock.frozenAt` stops its clock. */
  function service(clock: { frozenAt?: number } = {}) {
    const { db } = getDb();
    const provider = createFakeProvider();
    const generations = new GenerationService({
      db,
      provider,
      events,
      logger: createLogger({ level: "silent" }),
      accounts: new AccountRegistry(db, { initialCredits: 100 }),
      settings: {
        costPerGeneration: 1,
        textModel: "google/nano-banana",
        editModel: "google/nano-banana-edit",
        pollBudgetMs: 5_000,
        jobTimeoutMs: 600_000,
        notifyAcrossInstances: false,
      },
      now: () => clock.frozenAt ?? Date.now(),
    });
    const start = (userId: string) =>
      generations.create({
        userId,
        request: { prompt: "a banana" },
        files: [],
        mode: "async",
        requestId: "req",
      });
    return { db, provider, generations, start };
  }

  it("stays at the model's true duration when copies and settlements come late, cycle after cycle", async () => {
    const clock: { frozenAt?: number } = {};
    const { db, provider, generations, start } = service(clock);
    for (let cycle = 0; cycle < 24; cycle++) {
      const { job } = await start("user-drift");
      provider.succeed(job.taskId, [`https://results.example/${cycle}.png`], TRUE_MS);
      const ageMs = SEEN_AT_AGE_MS[cycle % SEEN_AT_AGE_MS.length] as number;
      await queryRows(
        db,
        sql`UPDATE nano_banana.generations SET created_at = now() - ${ageMs} * interval '1 millisecond',
              submitted_at = now() - ${ageMs} * interval '1 millisecond'
            WHERE kie_task_id = ${job.taskId}`,
      );
      expect((await generations.getForUser("user-drift", job.taskId))?.job.status).toBe("succeeded");
    }

    // A job 3 s old is next read just before the true duration: 10 s − the lead − 3 s.
    const { job } = await start("user-drift");
    const row = await db.query.generations.findFirst({ where: (g, { eq }) => eq(g.kieTaskId, job.taskId) });
    clock.frozenAt = Date.now();
    const threeSecondsOld = {
      ...(row as NonNullable<typeof row>),
      createdAt: new Date(clock.frozenAt - 3_000),
      submittedAt: new Date(clock.frozenAt - 3_000),
    };
    expect(generations.pollAfterMs(threeSecondsOld)).toBe(TRUE_MS - LEAD_MS - 3_000);
  });

  it("learns nothing from a duration longer than the job has existed (a broken record): polls stay on schedule", async () => {
    const { provider, generations, start } = service();
    // KIE's record says 59 minutes for tasks we created a moment ago: its times are wrong.
    for (let i = 0; i < 3; i++) {
      const { job } = await start("user-poisoned");
      provider.succeed(job.taskId, [`https://results.example/p${i}.png`], 59 * 60_000);
      expect((await generations.getForUser("user-poisoned", job.taskId))?.job.status).toBe("succeeded");
    }
    // A job KIE got 3 s ago is read again on the schedule by age (in 1.5 s), not an hour later.
    const sent = new Date(Date.now() - 3_000);
    const threeSecondsOld = { model: "google/nano-banana", createdAt: sent, submittedAt: sent };
    expect(generations.pollAfterMs(threeSecondsOld as never)).toBe(1_500);
  });

  it("learns nothing from a success whose duration the provider does not give", async () => {
    const { provider, generations, start } = service();
    for (let i = 0; i < 5; i++) {
      const { job } = await start("user-untimed");
      provider.succeed(job.taskId, ["https://results.example/p.png"]);
      expect((await generations.getForUser("user-untimed", job.taskId))?.job.status).toBe("succeeded");
    }
    // Still the schedule by age alone: nothing was learned.
    const next = await start("user-untimed");
    expect(next.outcome === "accepted" && next.pollAfterMs).toBe(1_500);
  });
});
