/**
 * A callback never drops its news (issue 10, items 10 and 11; DESIGN.md §5):
 * - a callback that finds the refresh lease held by another path looks again as soon as the
 *   lease ends, and settles the job within about a second of that;
 * - after an ambiguous createTask, a callback whose re-read of KIE answers "recordInfo is null"
 *   or fails is retried on the re-check schedule, so the paid task is still attached.
 */
import { afterEach, expect, it } from "vitest";
import { claimRefreshLease } from "@/lib/db/generations";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  creditsOf,
  eventually,
  jobRow,
  ledgerOf,
  postCallback,
  recordInfoReads,
  settledRow,
  simTask,
  startJob,
} from "./jobKit";

const AMBIGUOUS_CREATE = "createTask:reset;after;times=1";

describeEachDatabase(
  "jobs: callbacks and the refresh lease",
  (getDb) => {
    let h: Harness | undefined;
    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    it("a callback arriving while another path holds the lease settles the job once the lease ends", async () => {
      const harness = await startHarness({ database: getDb(), callbacks: true });
      h = harness;
      const { token } = await harness.signIn();
      const { taskId } = await startJob(harness, token, "[sim:callback=none] a crowded doorway");
      const task = await eventually(
        "the KIE task to finish",
        () => simTask(harness, taskId),
        (t) => t.state === "success",
      );
      const row = await jobRow(getDb(), taskId);
      expect(row.status).toBe("pending");

      // Another path (a poller on another instance, say) has just taken the lease and is reading KIE.
      expect(await claimRefreshLease(getDb().db, row.id, 0)).toBe(true);
      const leaseTaken = performance.now();
      const response = await postCallback(task.callBackUrl as string, {
        code: 200,
        msg: "Playground task completed successfully.",
        data: { taskId, state: "success", resultJson: task.resultJson },
      });
      expect(response.status).toBe(200);

      // Nobody polls and no reconciler runs here: only the callback's own second look can settle it.
      const settled = await settledRow(getDb(), taskId);
      const settledAfter = performance.now() - leaseTaken;
      expect(settled.status).toBe("succeeded");
      // It waited for the lease (1 s for a callback) to end, then read KIE once.
      expect(settledAfter).toBeGreaterThanOrEqual(900);
      expect(recordInfoReads(harness)).toBe(1);
      expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
      expect(await creditsOf(harness, token)).toBe(9);
    });

    it("ambiguous create: a callback whose re-read says 'recordInfo is null' is retried and attaches the task", async () => {
      // KIE's record of a new task appears 1.5 s after creation; the task itself ends sooner.
      const harness = await startHarness({
        database: getDb(),
        callbacks: true,
        sim: { recordDelayMs: 1_500 },
      });
      h = harness;
      const { token } = await harness.signIn();
      harness.sim.setFaults(AMBIGUOUS_CREATE);
      const response = await harness.fetch("/api/generate", {
        method: "POST",
        token,
        headers: { "content-type": "application/json", prefer: "respond-async" },
        body: JSON.stringify({ prompt: "a task KIE is slow to record" }),
      });
      const body = await response.json();
      expect(response.status, JSON.stringify(body)).toBe(502);
      const jobId = body.error.taskId as string;
      const [kieTask] = harness.sim.tasks();
      await eventually(
        "the callback to be sent while KIE's record is not yet written",
        () => harness.sim.task(kieTask?.taskId as string),
        (t) => (t?.callbacksSent ?? 0) === 1,
      );

      const row = await settledRow(getDb(), jobId, 320); // ≤ 8 s
      expect(row).toMatchObject({ status: "succeeded", kieTaskId: kieTask?.taskId });
      expect(await ledgerOf(getDb(), jobId)).toEqual({ reserve: 1, capture: 1 });
      expect(await creditsOf(harness, token)).toBe(9);
    });

    it("ambiguous create: a callback whose re-read fails (KIE 5xx) is retried and attaches the task", async () => {
      const harness = await startHarness({ database: getDb(), callbacks: true });
      h = harness;
      const { token } = await harness.signIn();
      harness.sim.setFaults(AMBIGUOUS_CREATE);
      const response = await harness.fetch("/api/generate", {
        method: "POST",
        token,
        headers: { "content-type": "application/json", prefer: "respond-async" },
        body: JSON.stringify({ prompt: "[sim:delay=600] a task read through a bad gateway" }),
      });
      const body = await response.json();
      expect(response.status, JSON.stringify(body)).toBe(502);
      const jobId = body.error.taskId as string;
      // Every read of the callback's first look fails (the client's own retries included).
      harness.sim.setFaults("recordInfo:http=503;times=3");

      const row = await settledRow(getDb(), jobId, 320);
      expect(row.status).toBe("succeeded");
      expect(await ledgerOf(getDb(), jobId)).toEqual({ reserve: 1, capture: 1 });
    });
  },
  { concurrency: true },
);
