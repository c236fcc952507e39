/**
 * Every status read takes a token of KIE's read budget (issue 23): against a kie-sim that enforces
 * KIE's read limit, reads never go over it (counted at the sim: none refused), on one app instance
 * or two sharing a database; and a reconciler sweep that finds no token neither reads nor gives up
 * on a job.
 */
import { eq } from "drizzle-orm";
import { afterEach, expect, it } from "vitest";
import { type Database, generations, openDatabase } from "@/lib/db";
import { createKieBudget } from "@/lib/db/kieBudget";
import { createReadGate, ReadBudgetExhaustedError } from "@/lib/generation/readBudget";
import { KieClient } from "@/lib/kie";
import { type RunningKieSim, startKieSim } from "@/sim/server";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { backdate, eventually, jobRow, ledgerOf, recordInfoReads, simTask, startJob } from "./jobKit";

const HOUR = 3_600_000;
/** KIE's read limit in the sim (kie-api.md: about 10 per second). */
const SIM_READS = { limit: 10, windowMs: 1_000 };
/**
 * The app's, well under it: the sim runs in this process, so when the machine is busy its clock
 * bunches up arrivals that left evenly — a test artefact a real KIE would not see, given room here.
 */
const READS = { limit: 5, windowMs: 1_000 };

describeEachDatabase(
  "jobs: KIE's read budget",
  (getDb, variant) => {
    const closers: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const close of closers.reverse()) await close();
      closers.length = 0;
    });

    async function harness(env: Record<string, string>, sim = {}): Promise<Harness> {
      const started = await startHarness({ database: getDb(), env, sim });
      closers.push(() => started.close());
      return started;
    }

    /** What the sim accepted and refused of recordInfo. */
    const reads = (sim: RunningKieSim) => sim.limits().recordInfo;

    /** `count` reads at once; how many were answered and how many skipped for want of a token. */
    async function burstOfReads(read: () => Promise<unknown>, count: number) {
      const results = await Promise.allSettled(Array.from({ length: count }, read));
      const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
      expect(failures.filter((e) => !(e instanceof ReadBudgetExhaustedError))).toEqual([]);
      return { answered: count - failures.length, skipped: failures.length };
    }

    it("a burst of status reads through the app never goes over KIE's read limit", async () => {
      const h = await harness(
        { KIE_READ_LIMIT: `${READS.limit}` },
        { recordInfoRateLimit: SIM_READS, stepMs: 60_000 },
      );
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "read me often");
      const kieTaskId = (await jobRow(getDb(), taskId)).kieTaskId as string;

      const { answered, skipped } = await burstOfReads(
        () => h.app.kie.getTaskStatus(kieTaskId, { requestId: "burst" }),
        30,
      );
      expect(answered).toBeGreaterThan(0);
      expect(reads(h.sim)).toMatchObject({ accepted: answered, refused: 0 });
      expect(reads(h.sim).maxAcceptedInWindow).toBeLessThanOrEqual(SIM_READS.limit);
      const waits = await h.app.metrics.kieBudgetWaits.get();
      const skippedSeen = waits.values.find(
        (v) => v.labels.budget === "read" && v.labels.outcome === "skipped",
      );
      expect(skippedSeen?.value).toBe(skipped);
    });

    it("two instances on one database share the read budget", async () => {
      const sim = await startKieSim({ recordInfoRateLimit: SIM_READS, stepMs: 60_000, logger: false });
      closers.push(() => sim.close());
      const url = variant.databaseUrl();
      const other: Database = url ? await openDatabase({ databaseUrl: url, maxConnections: 4 }) : getDb();
      if (url) closers.push(() => other.close());

      const clients = [getDb(), other].map((database) => {
        const gate = createReadGate(createKieBudget(database.db, { read: READS }));
        const client = new KieClient({
          apiKey: "one-kie-account",
          baseUrl: sim.url,
          uploadBaseUrl: sim.url,
          beforeAttempt: (endpoint, signal) => (endpoint === "recordInfo" ? gate(signal) : Promise.resolve()),
        });
        closers.push(() => client.close());
        return client;
      });
      const { taskId } = await clients[0]!.generateImage({ prompt: "shared" }, { requestId: "create" });

      const bursts = clients.map((client) =>
        burstOfReads(() => client.getTaskStatus(taskId, { requestId: "burst" }), 15),
      );
      const answered = (await Promise.all(bursts)).reduce((sum, b) => sum + b.answered, 0);
      expect(answered).toBeGreaterThan(0);
      expect(reads(sim)).toMatchObject({ accepted: answered, refused: 0 });
      expect(reads(sim).maxAcceptedInWindow).toBeLessThanOrEqual(SIM_READS.limit);
    });

    it("a sweep that finds no read token leaves a job past KIE_TIMEOUT_MS open, unread and unreleased", async () => {
      const h = await harness({ KIE_READ_LIMIT: "2/1h", KIE_TIMEOUT_MS: "60000" });
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "finished while nobody could look");
      await eventually(
        "the KIE task to finish",
        () => simTask(h, taskId),
        (t) => t.state === "success",
      );
      const row = await jobRow(getDb(), taskId);
      // Another instance took the hour's only read token.
      expect(await createKieBudget(getDb().db, { read: { limit: 2, windowMs: HOUR } }).takeRead()).toEqual({
        ok: true,
      });
      await backdate(getDb(), row.id, 120);

      expect(await h.app.generations.reconcile()).toEqual({ examined: 1, settled: 0 });
      expect((await jobRow(getDb(), taskId)).status).toBe("pending");
      expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1 });
      expect(recordInfoReads(h)).toBe(0);

      // Tokens again (a new window), and the job's lease over: the next sweep delivers the image.
      await getDb().db.execute("TRUNCATE nano_banana.kie_budget");
      await getDb().db.update(generations).set({ refreshedAt: null }).where(eq(generations.id, row.id));
      expect(await h.app.generations.reconcile()).toEqual({ examined: 1, settled: 1 });
      expect((await jobRow(getDb(), taskId)).status).toBe("succeeded");
      expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
    });
  },
  { concurrency: true },
);
