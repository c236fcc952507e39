/**
 * `GET /api/generate/:taskId` with `Prefer: wait=N` (DESIGN.md §3): the answer is held until the
 * job leaves pending/processing or N seconds (capped at 25) pass, with `Preference-Applied`; it is
 * woken by the settlement itself (in-process, and across instances by Postgres NOTIFY), holds no
 * database connection while it waits, and keeps refreshing from KIE on the normal lease schedule
 * when polling is the only way the job can progress.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "@/lib/db";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { createTestDatabase, describeEachDatabase, TEST_DATABASE_URL } from "../../helpers/database";
import {
  eventually,
  isOpenStatus,
  jobRow,
  ledgerOf,
  pause,
  readStatus,
  recordInfoReads,
  type StatusBody,
  simTask,
  startJob,
} from "./jobKit";

/** The lease interval for a young job (docs/JOBS.md): KIE is read at most once per second. */
const LEASE_MS = 1_000;

async function waitFor(
  h: Harness,
  token: string,
  taskId: string,
  prefer: string | undefined,
): Promise<{ status: number; body: StatusBody; applied: string | null; elapsedMs: number; at: number }> {
  const started = performance.now();
  const response = await h.fetch(`/api/generate/${encodeURIComponent(taskId)}`, {
    token,
    headers: prefer ? { prefer } : {},
  });
  const at = performance.now();
  return {
    status: response.status,
    body: (await response.json()) as StatusBody,
    applied: response.headers.get("preference-applied"),
    elapsedMs: at - started,
    at,
  };
}

describeEachDatabase(
  "jobs: status read with Prefer: wait",
  (getDb) => {
    const harnesses: Harness[] = [];
    afterEach(async () => {
      for (const harness of harnesses.reverse()) await harness.close();
      harnesses.length = 0;
    });
    async function harness(options: { callbacks?: boolean; env?: Record<string, string> } = {}) {
      const started = await startHarness({ database: getDb(), ...options });
      harnesses.push(started);
      return started;
    }

    it("is held until the job settles (woken by its callback), then answers with Preference-Applied", async () => {
      const h = await harness({ callbacks: true });
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "[sim:delay=1500] a patient heron");

      const answer = await waitFor(h, token, taskId, "wait=20");
      expect(answer.status).toBe(200);
      expect(answer.applied).toBe("wait=20");
      expect(answer.body).toMatchObject({ status: "succeeded", creditsUsed: 1, remainingCredits: 9 });
      expect(answer.body.imageUrl).toBeTruthy();
      // Settled by the callback (about 1.5 s in), far sooner than the 20 s asked for.
      expect(answer.elapsedMs).toBeLessThan(10_000);
      // The callback's one read of KIE settled it; the waiter itself read nothing (grace period).
      expect(recordInfoReads(h)).toBe(1);
      const row = await jobRow(getDb(), taskId);
      expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
    });

    it("answers after N seconds with the job still open when it does not settle", async () => {
      const h = await harness({ callbacks: true });
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "[sim:never] a stubborn mule");

      const answer = await waitFor(h, token, taskId, "wait=1");
      expect(answer.status).toBe(200);
      expect(answer.applied).toBe("wait=1");
      expect(isOpenStatus(answer.body.status)).toBe(true);
      expect(answer.elapsedMs).toBeGreaterThanOrEqual(950);
      expect(answer.elapsedMs).toBeLessThan(1_000 + 3_000);
    });

    it("caps the wait at 25 s, ignores a malformed wait, and does not wait without the preference", async () => {
      const h = await harness();
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "a quick sparrow");
      await eventually(
        "the job to settle",
        () => readStatus(h, token, taskId),
        (body) => !isOpenStatus(body.status),
        { attempts: 200, intervalMs: 50 },
      );

      const capped = await waitFor(h, token, taskId, "wait=100");
      expect(capped.applied).toBe("wait=25");
      expect(capped.body.status).toBe("succeeded");
      const combined = await waitFor(h, token, taskId, "respond-async, wait=3");
      expect(combined.applied).toBe("wait=3");
      const malformed = await waitFor(h, token, taskId, "wait=soon");
      expect(malformed.applied).toBeNull();
      const none = await waitFor(h, token, taskId, undefined);
      expect(none.applied).toBeNull();
      expect(none.body.status).toBe("succeeded");
    });

    it("keeps the job progressing when polling is the only path (no callbacks): reads KIE on the lease schedule", async () => {
      const h = await harness();
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "[sim:delay=2500] a slow snail");

      const answer = await waitFor(h, token, taskId, "wait=20");
      expect(answer.body).toMatchObject({ status: "succeeded", creditsUsed: 1 });
      expect(answer.elapsedMs).toBeLessThan(10_000);
      const reads = recordInfoReads(h);
      expect(reads).toBeGreaterThanOrEqual(2);
      // At most one read per lease interval (+ the first look), however the waiter is woken.
      expect(reads).toBeLessThanOrEqual(2 + Math.floor(answer.elapsedMs / LEASE_MS));
    });

    it("50 waiters on one job share one look schedule (no more KIE reads than one poller)", async () => {
      const h = await harness();
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "[sim:delay=2500] a crowd watching one kettle");

      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => waitFor(h, token, taskId, "wait=20")),
      );
      const elapsed = performance.now() - started;
      for (const answer of answers) expect(answer.body.status).toBe("succeeded");
      expect(recordInfoReads(h)).toBeLessThanOrEqual(2 + Math.floor(elapsed / LEASE_MS));
      const row = await jobRow(getDb(), taskId);
      expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
    });

    it("a waiting client that goes away stops waiting, and its job is not read on its behalf", async () => {
      // No callbacks: a waiter reads KIE itself once per lease interval, so a wait that went on
      // after its client left would show as further reads.
      const h = await harness();
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "[sim:never] an abandoned tab");
      const controller = new AbortController();
      const answered = h.fetch(`/api/generate/${encodeURIComponent(taskId)}`, {
        token,
        headers: { prefer: "wait=20" },
        signal: controller.signal,
      });
      await eventually(
        "the request to be waiting",
        () => h.app.generations.waitingRequests,
        (n) => n === 1,
      );
      controller.abort();
      await eventually(
        "the waiter to leave",
        () => h.app.generations.waitingRequests,
        (n) => n === 0,
        { attempts: 40, intervalMs: 25 },
      );
      const readsWhenItLeft = recordInfoReads(h);
      await pause(4 * LEASE_MS); // several lease intervals, each of which a waiter would read KIE in
      expect(recordInfoReads(h)).toBe(readsWhenItLeft);
      await answered.catch(() => undefined);
    });
  },
  { concurrency: true },
);

describe.skipIf(!TEST_DATABASE_URL)(
  `jobs: Prefer: wait across instances [postgres]${TEST_DATABASE_URL ? "" : " (needs TEST_DATABASE_URL)"}`,
  () => {
    const extra: Database[] = [];
    const harnesses: Harness[] = [];

    it("a settlement on another instance wakes the waiter at once (Postgres NOTIFY)", async () => {
      const test = await createTestDatabase("postgres");
      try {
        // A: the waiting instance, with callbacks configured, so it does not read KIE itself for
        // the first 15 s — only the NOTIFY can wake it sooner.
        const a = await startHarness({ database: test.database, callbacks: true });
        harnesses.push(a);
        // B: another instance on the same database and KIE, without callbacks: it polls KIE.
        const b = await startHarness({
          database: test.database,
          env: { KIE_BASE_URL: a.sim.url, KIE_UPLOAD_BASE_URL: a.sim.url },
        });
        harnesses.push(b);
        const { token, userId } = await b.signIn();
        const { taskId } = await startJob(b, token, "seen from two instances");
        await eventually(
          "the KIE task to finish",
          () => simTask(a, taskId),
          (task) => task.state === "success",
        );

        let wokeAt = 0;
        const waiting = a.app.generations.getForUser(userId, taskId, { waitMs: 20_000 }).then((found) => {
          wokeAt = performance.now();
          return found;
        });
        await pause(300); // the waiter is subscribed
        const settled = await b.app.generations.getForUser(userId, taskId);
        const settledAt = performance.now();
        expect(settled?.job.status).toBe("succeeded");

        const found = await waiting;
        expect(found?.job.status).toBe("succeeded");
        const wakeMs = Math.max(0, wokeAt - settledAt);
        console.info(`cross-instance wake-up: ${wakeMs.toFixed(1)} ms after the settling call returned`);
        // Bounded, not timed: far below A's own first look at KIE (15 s), so only NOTIFY woke it.
        expect(wakeMs).toBeLessThan(1_000);
        expect(recordInfoReads(a)).toBe(1); // B's one read; A never read KIE
      } finally {
        for (const harness of harnesses.reverse()) await harness.close();
        harnesses.length = 0;
        await test.dispose();
      }
    });

    it("200 waiters on one instance wait on at most 2 database connections (pool of 2, one of them LISTEN)", async () => {
      const test = await createTestDatabase("postgres");
      // The instance under test gets a pool of 2: LISTEN takes one, everything else shares the other.
      const small = await openDatabase({ databaseUrl: test.databaseUrl as string, maxConnections: 2 });
      extra.push(small);
      if (small.kind !== "postgres") throw new Error("expected Postgres");
      try {
        const h = await startHarness({
          database: small,
          callbacks: true,
          env: { CREDITS_INITIAL: "100", RATE_LIMIT_PER_MINUTE: "100" },
        });
        harnesses.push(h);
        const { token } = await h.signIn();
        const taskIds: string[] = [];
        for (let i = 0; i < 20; i++)
          taskIds.push((await startJob(h, token, `[sim:delay=8000] crowd ${i}`)).taskId);

        let sampling = true;
        const samples: { at: number; inUse: number; queued: number; total: number }[] = [];
        const sampler = (async () => {
          // Every waiter has arrived, made its first look and is now waiting.
          await eventually(
            "all 200 requests to be waiting",
            () => h.app.generations.waitingRequests,
            (n) => n === 200,
            { attempts: 1_000, intervalMs: 10 },
          );
          await pause(300);
          while (sampling) {
            const { totalCount, idleCount, waitingCount } = small.pool;
            samples.push({
              at: performance.now(),
              inUse: totalCount - idleCount,
              queued: waitingCount,
              total: totalCount,
            });
            await pause(20);
          }
        })();
        const started = performance.now();
        const answers = await Promise.all(
          Array.from({ length: 200 }, (_, i) => waitFor(h, token, taskIds[i % 20] as string, "wait=20")),
        );
        const firstAnswer = Math.min(...answers.map((a) => a.at));
        sampling = false;
        await sampler;

        for (const answer of answers) expect(answer.body.status).toBe("succeeded");
        expect(firstAnswer - started).toBeGreaterThan(1_500); // they really waited
        // While all 200 were waiting (before the first settlement woke any of them):
        const waiting = samples.filter((sample) => sample.at < firstAnswer - 100);
        expect(waiting.length).toBeGreaterThan(10);
        const maxTotal = Math.max(...waiting.map((sample) => sample.total));
        const maxInUse = Math.max(...waiting.map((sample) => sample.inUse));
        const maxQueued = Math.max(...waiting.map((sample) => sample.queued));
        console.info(
          `200 waiters: ${maxTotal} connection(s) open, at most ${maxInUse} checked out (LISTEN included), ${maxQueued} queued, over ${waiting.length} samples`,
        );
        // All 200 were waiting at once with one connection besides LISTEN: none of them holds one.
        expect(maxTotal).toBeLessThanOrEqual(2);
        expect(maxInUse).toBeLessThanOrEqual(2);
      } finally {
        for (const harness of harnesses.reverse()) await harness.close();
        harnesses.length = 0;
        for (const db of extra.splice(0)) await db.close();
        await test.dispose();
      }
    });
  },
);
