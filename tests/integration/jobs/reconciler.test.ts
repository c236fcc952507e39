/**
 * The reconciler (DESIGN.md §4, §5): settles jobs nobody polls, times out jobs past KIE_TIMEOUT_MS
 * (credits back, exactly one release), runs as `POST|GET /api/cron/reconcile` behind CRON_SECRET,
 * and several sweeping at once (two app instances on one database) settle each job once.
 *
 * The reconciler leaves jobs younger than ~20 s to their own pollers; rather than waiting, tests
 * age a job by moving its created_at back (jobKit.backdate), which is what 20 s of waiting does.
 */
import { afterEach, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  backdate,
  creditsOf,
  eventually,
  isOpenStatus,
  jobRow,
  ledgerOf,
  readStatus,
  recordInfoReads,
  simTask,
  startJob,
} from "./jobKit";

const CRON_SECRET = "cron-secret-for-tests";
const STALE_SECONDS = 25;

describeEachDatabase(
  "jobs: reconciler",
  (getDb) => {
    const harnesses: Harness[] = [];
    afterEach(async () => {
      for (const harness of harnesses.reverse()) await harness.close();
      harnesses.length = 0;
    });

    async function harness(env: Record<string, string> = {}): Promise<Harness> {
      const started = await startHarness({ database: getDb(), env });
      harnesses.push(started);
      return started;
    }

    /** A job whose KIE task has finished but that nobody has polled, made stale. */
    async function finishedStaleJob(h: Harness, token: string, prompt: string): Promise<string> {
      const { taskId } = await startJob(h, token, prompt);
      await eventually(
        "the KIE task to finish",
        () => simTask(h, taskId),
        (t) => t.state === "success",
      );
      const row = await jobRow(getDb(), taskId);
      expect(row.status).toBe("pending");
      await backdate(getDb(), row.id, STALE_SECONDS);
      return taskId;
    }

    it("reconcile() settles a finished job nobody polls, and leaves young jobs to their pollers", async () => {
      const h = await harness();
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "a closed tab");
      await eventually(
        "the KIE task to finish",
        () => simTask(h, taskId),
        (t) => t.state === "success",
      );

      // Young: not the reconciler's business yet.
      expect(await h.app.generations.reconcile()).toEqual({ examined: 0, settled: 0 });
      const row = await jobRow(getDb(), taskId);
      expect(row.status).toBe("pending");
      expect(recordInfoReads(h)).toBe(0);

      await backdate(getDb(), row.id, STALE_SECONDS);
      expect(await h.app.generations.reconcile()).toEqual({ examined: 1, settled: 1 });
      const settled = await jobRow(getDb(), taskId);
      expect(settled.status).toBe("succeeded");
      expect(settled.resultUrls).toEqual([simTask(h, taskId).resultUrl]);
      expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
      expect(await creditsOf(h, token)).toBe(9);
      expect(recordInfoReads(h)).toBe(1);

      // Nothing left to do.
      expect(await h.app.generations.reconcile()).toEqual({ examined: 0, settled: 0 });
      expect(recordInfoReads(h)).toBe(1);
    });

    it("POST and GET /api/cron/reconcile sweep with the right bearer token; 401 otherwise", async () => {
      const h = await harness({ CRON_SECRET });
      const { token } = await h.signIn();
      const first = await finishedStaleJob(h, token, "swept by POST");

      const refused: [string, Record<string, string>][] = [
        ["no token", {}],
        ["wrong token", { authorization: "Bearer not-the-cron-secret" }],
        ["the secret without Bearer", { authorization: CRON_SECRET }],
        ["a user's access token", { authorization: `Bearer ${token}` }],
      ];
      for (const [what, headers] of refused) {
        for (const method of ["POST", "GET"]) {
          const response = await h.fetch("/api/cron/reconcile", { method, headers });
          expect(response.status, `${method} ${what}`).toBe(401);
          expect((await response.json()).error.code).toBe("unauthorized");
        }
      }
      expect((await jobRow(getDb(), first)).status).toBe("pending");
      expect(recordInfoReads(h)).toBe(0);

      const byPost = await h.fetch("/api/cron/reconcile", {
        method: "POST",
        headers: { authorization: `Bearer ${CRON_SECRET}` },
      });
      expect(byPost.status).toBe(200);
      expect(await byPost.json()).toMatchObject({ success: true, examined: 1, settled: 1 });
      expect((await jobRow(getDb(), first)).status).toBe("succeeded");

      // Vercel Cron calls with GET.
      const second = await finishedStaleJob(h, token, "swept by GET");
      const byGet = await h.fetch("/api/cron/reconcile", {
        headers: { authorization: `Bearer ${CRON_SECRET}` },
      });
      expect(byGet.status).toBe(200);
      expect(await byGet.json()).toMatchObject({ success: true, examined: 1, settled: 1 });
      expect((await jobRow(getDb(), second)).status).toBe("succeeded");
      expect(await creditsOf(h, token)).toBe(8);
    });

    it("without CRON_SECRET the route does not exist (404), whatever the token", async () => {
      const h = await harness();
      const { token } = await h.signIn();
      const stale = await finishedStaleJob(h, token, "not swept by cron");
      for (const method of ["POST", "GET"]) {
        for (const headers of [{}, { authorization: "Bearer anything" }] as Record<string, string>[]) {
          const response = await h.fetch("/api/cron/reconcile", { method, headers });
          expect(response.status, method).toBe(404);
          expect((await response.json()).error.code).toBe("not_found");
        }
      }
      expect((await jobRow(getDb(), stale)).status).toBe("pending");
    });

    it("after KIE_TIMEOUT_MS a never-finishing job reads timeout, with its credits back (one release)", async () => {
      const h = await harness({ KIE_TIMEOUT_MS: "1000" });
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "[sim:never] a polled job that never ends");
      expect(await creditsOf(h, token)).toBe(9);

      // Real time: a poller sees the job time out once KIE_TIMEOUT_MS has passed.
      const timedOut = await eventually(
        "the job to time out",
        () => readStatus(h, token, taskId),
        (answer) => !isOpenStatus(answer.status),
        { attempts: 80, intervalMs: 50 },
      );
      expect(timedOut).toMatchObject({
        status: "timeout",
        creditsUsed: 0,
        remainingCredits: 10,
        error: { code: "upstream_timeout" },
      });
      expect(timedOut.imageUrl).toBeUndefined();
      const row = await jobRow(getDb(), taskId);
      expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, release: 1 });

      // Later polls and sweeps change nothing.
      const reads = recordInfoReads(h);
      await backdate(getDb(), row.id, STALE_SECONDS);
      expect(await h.app.generations.reconcile()).toEqual({ examined: 0, settled: 0 });
      expect(await readStatus(h, token, taskId)).toMatchObject({ status: "timeout", remainingCredits: 10 });
      expect(recordInfoReads(h)).toBe(reads);
      expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, release: 1 });
    });

    it("the reconciler times out a stale job nobody polls, after one last look at KIE", async () => {
      const h = await harness({ KIE_TIMEOUT_MS: "1000" });
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "[sim:never] an abandoned job");
      const row = await jobRow(getDb(), taskId);
      await backdate(getDb(), row.id, STALE_SECONDS);

      expect(await h.app.generations.reconcile()).toEqual({ examined: 1, settled: 1 });
      expect(recordInfoReads(h)).toBe(1);
      expect(await jobRow(getDb(), taskId)).toMatchObject({
        status: "timeout",
        errorCode: "upstream_timeout",
      });
      expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, release: 1 });
      expect(await creditsOf(h, token)).toBe(10);
    });

    it("two app instances sweeping at once settle each job exactly once", async () => {
      const first = await harness({ KIE_TIMEOUT_MS: "1000" });
      const second = await harness({ KIE_TIMEOUT_MS: "1000", KIE_BASE_URL: first.sim.url });
      // The route handlers now use the second app; both apps share the database and KIE.
      const { token } = await second.signIn();
      const taskIds: string[] = [];
      for (let i = 0; i < 3; i++) taskIds.push((await startJob(second, token, `finished ${i}`)).taskId);
      for (let i = 0; i < 3; i++)
        taskIds.push((await startJob(second, token, `[sim:never] stuck ${i}`)).taskId);
      await eventually(
        "the finishing KIE tasks to finish",
        () => taskIds.slice(0, 3).map((id) => simTask(first, id).state),
        (states) => states.every((state) => state === "success"),
      );
      const jobIds = await Promise.all(taskIds.map(async (id) => (await jobRow(getDb(), id)).id));
      for (const id of jobIds) await backdate(getDb(), id, STALE_SECONDS);

      const sweeps = await Promise.all([
        first.app.generations.reconcile(),
        second.app.generations.reconcile(),
        first.app.generations.reconcile(),
        second.app.generations.reconcile(),
      ]);
      expect(sweeps.reduce((sum, sweep) => sum + sweep.examined, 0)).toBe(6);
      expect(sweeps.reduce((sum, sweep) => sum + sweep.settled, 0)).toBe(6);
      // Each job was read from KIE once (its one last look), by whichever instance claimed it.
      expect(recordInfoReads(first)).toBe(6);

      for (const [i, id] of taskIds.entries()) {
        const row = await jobRow(getDb(), id);
        const expected =
          i < 3 ? { status: "succeeded", kind: "capture" } : { status: "timeout", kind: "release" };
        expect(row.status, id).toBe(expected.status);
        expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, [expected.kind]: 1 });
      }
      expect(await creditsOf(second, token)).toBe(7);

      // Each settlement was counted once, by one instance or the other.
      const outcomes: Record<string, number> = {};
      for (const h of [first, second]) {
        for (const { labels, value } of (await h.app.metrics.generations.get()).values) {
          outcomes[String(labels.outcome)] = (outcomes[String(labels.outcome)] ?? 0) + value;
        }
      }
      expect(outcomes).toEqual({ succeeded: 3, failed: 0, timeout: 3 });
    });
  },
  { concurrency: true },
);
