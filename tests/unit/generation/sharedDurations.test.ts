/**
 * Warm from the first job, on every instance (issue 28 item 2): what the poll schedule learns of
 * a model's duration (KIE's own completeTime − createTime) is kept in the database, so a second
 * instance on the same database — started afterwards, or already running — polls that model's
 * jobs on the learned schedule from its first job, not on the cold schedule by age.
 */
import { eq, sql } from "drizzle-orm";
import { afterEach, expect, it } from "vitest";
import { AccountRegistry } from "@/lib/credits";
import { type Database, generations as generationsTable, modelDurations } from "@/lib/db";
import { createModelDurationStore } from "@/lib/db/modelDurations";
import { GenerationService, JobEvents } from "@/lib/generation";
import { REFRESH_EVERY_MS } from "@/lib/generation/learnedDurations";
import { LEAD_MS } from "@/lib/generation/pollSchedule";
import { createLogger } from "@/lib/observability/logger";
import { describeEachDatabase } from "../../helpers/database";
import { createFakeProvider } from "../../helpers/fakeProvider";

/** How long the model takes by KIE's clock: the learned schedule reads just before it. */
const TRUE_MS = 10_000;
const MODEL = "google/nano-banana";

describeEachDatabase("learned poll durations, shared by instances", (getDb) => {
  const events = new JobEvents();
  const services: GenerationService[] = [];
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.close()));
    events.close();
  });

  /** One instance: its own service (and memory) on the shared database; `clock.offsetMs` moves its clock. */
  function instance(options: { shared?: boolean; clock?: { offsetMs: number; frozenAt?: number } } = {}) {
    const { db } = getDb();
    const provider = createFakeProvider();
    const clock: { offsetMs: number; frozenAt?: number } = options.clock ?? { offsetMs: 0 };
    const generations = new GenerationService({
      db,
      provider,
      events,
      logger: createLogger({ level: "silent" }),
      accounts: new AccountRegistry(db, { initialCredits: 100 }),
      settings: {
        costPerGeneration: 1,
        textModel: MODEL,
        editModel: "google/nano-banana-edit",
        pollBudgetMs: 5_000,
        jobTimeoutMs: 600_000,
        notifyAcrossInstances: false,
      },
      ...(options.shared !== false && { durationStore: createModelDurationStore(db) }),
      now: () => (clock.frozenAt ?? Date.now()) + clock.offsetMs,
    });
    services.push(generations);
    /** Runs `count` jobs to success, each KIE-timed at TRUE_MS. */
    const learn = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const created = await generations.create({
          userId: "user-warm",
          request: { prompt: "a banana" },
          files: [],
          mode: "async",
          requestId: "req",
        });
        // As old as KIE's duration says, at least: a longer duration is a broken record (apply.ts).
        await db
          .update(generationsTable)
          .set({ createdAt: sql`now() - interval '1 minute'` })
          .where(eq(generationsTable.kieTaskId, created.job.taskId));
        provider.succeed(created.job.taskId, [`https://results.example/${i}.png`], TRUE_MS);
        expect((await generations.getForUser("user-warm", created.job.taskId))?.job.status).toBe("succeeded");
      }
    };
    /** The poll hint for a job of this model KIE got 3 s ago, by this instance's clock. */
    const hintAtThreeSeconds = () => {
      clock.frozenAt = Date.now(); // the job's age is 3 s exactly, not a millisecond more
      const sent = new Date(clock.frozenAt + clock.offsetMs - 3_000);
      const hint = generations.pollAfterMs({ model: MODEL, createdAt: sent, submittedAt: sent } as never);
      clock.frozenAt = undefined;
      return hint;
    };
    return { generations, learn, hintAtThreeSeconds };
  }

  /** Learned: read just before the model's duration (10 s − the lead − 3 s). Cold: by age, 1.5 s. */
  const LEARNED = TRUE_MS - LEAD_MS - 3_000;
  const COLD = 1_500;

  it("a second instance starts with the first one's learned durations", async () => {
    const first = instance();
    await first.learn(3);
    expect(first.hintAtThreeSeconds()).toBe(LEARNED);
    await first.generations.close(); // a shutdown writes what it has not shared yet

    const second = instance();
    await second.generations.loadDurations(); // as lib/compose.ts does at start-up
    expect(second.hintAtThreeSeconds()).toBe(LEARNED);

    // What it would have done before: an instance that keeps durations in its own memory only.
    const alone = instance({ shared: false });
    expect(alone.hintAtThreeSeconds()).toBe(COLD);
  });

  it("an instance already running takes what another learned at its next refresh", async () => {
    const clock = { offsetMs: 0 };
    const running = instance({ clock });
    await running.generations.loadDurations();
    expect(running.hintAtThreeSeconds()).toBe(COLD);

    const other = instance();
    await other.learn(3);
    await other.generations.close();

    // Its reconciler's sweep refreshes at most every REFRESH_EVERY_MS.
    await running.generations.reconcile();
    clock.offsetMs = REFRESH_EVERY_MS + 1_000;
    await running.generations.reconcile();
    expect(running.hintAtThreeSeconds()).toBe(LEARNED);
  });

  it("keeps each model's newest 20 durations, none lost to instances writing at once", async () => {
    const { db } = getDb() as Database;
    const a = createModelDurationStore(db);
    const b = createModelDurationStore(db);
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).append("m", [1_000 + i, 2_000 + i])),
    );
    const [row] = await db.select().from(modelDurations);
    const expected = Array.from({ length: 8 }, (_, i) => [1_000 + i, 2_000 + i]).flat();
    expect([...(row?.samplesMs ?? [])].sort()).toEqual(expected.sort());
    const all = await a.append("m", [5_000, 5_001, 5_002, 5_003, 5_004, 5_005]);
    expect(all).toHaveLength(20);
    expect(all.slice(-6)).toEqual([5_000, 5_001, 5_002, 5_003, 5_004, 5_005]);
    expect((await b.load()).get("m")).toEqual(all);
  });
});
