/**
 * An ambiguous createTask (KIE created the task, then the connection dropped before its answer;
 * DESIGN.md §5, docs/JOBS.md): with callbacks the request answers 502 with the job's id, the job
 * stays pending, and KIE's callback later attaches the task — only because KIE's own record of it
 * carries this job's callBackUrl — and settles it. Without APP_URL the credits come back at once.
 */
import { afterEach, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  callbackBody,
  creditsOf,
  eventually,
  jobRow,
  ledgerOf,
  postCallback,
  readStatus,
  recordInfoReads,
  settledRow,
  startJob,
} from "./jobKit";

/** The simulator creates the task, then resets the connection instead of answering. */
const AMBIGUOUS_CREATE = "createTask:reset;after;times=1";

describeEachDatabase("jobs: ambiguous createTask", (getDb) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function generateExpecting502(harness: Harness, token: string, prompt: string) {
    const response = await harness.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": "application/json", prefer: "respond-async" },
      body: JSON.stringify({ prompt }),
    });
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(502);
    expect(body).toMatchObject({ success: false, error: { code: "upstream_error" } });
    return body.error as { code: string; taskId?: string };
  }

  it("with callbacks: 502 with a taskId, the job stays pending, and KIE's callback attaches and settles it", async () => {
    const harness = await startHarness({ database: getDb(), callbacks: true });
    h = harness;
    const { token } = await harness.signIn();
    harness.sim.setFaults(AMBIGUOUS_CREATE);

    const error = await generateExpecting502(harness, token, "[sim:delay=6000] a doubtful request");
    expect(error.taskId).toMatch(/^[0-9a-f-]{36}$/);
    const jobId = error.taskId as string;

    // KIE did create the task, with this job's callBackUrl.
    const [kieTask] = harness.sim.tasks();
    expect(harness.sim.tasks()).toHaveLength(1);
    expect(new URL(kieTask?.callBackUrl as string).searchParams.get("job")).toBe(jobId);

    const pending = await jobRow(getDb(), jobId);
    expect(pending).toMatchObject({ status: "pending", kieTaskId: null, settledAt: null });
    expect(await ledgerOf(getDb(), jobId)).toEqual({ reserve: 1 });
    expect(await creditsOf(harness, token)).toBe(9);
    expect(await readStatus(harness, token, jobId)).toMatchObject({ taskId: jobId, status: "pending" });

    // A callback to this job's URL naming someone else's task is not adopted: KIE's record of
    // that task names another callBackUrl.
    const stranger = await harness.signIn();
    const theirs = await startJob(harness, stranger.token, "someone else's picture");
    const theirRow = await settledRow(getDb(), theirs.taskId);
    expect(harness.sim.task(kieTask?.taskId as string)?.state).not.toBe("success");
    const readsBefore = recordInfoReads(harness);
    const forged = await postCallback(
      kieTask?.callBackUrl as string,
      callbackBody(theirs.taskId, "success", theirRow.resultUrls ?? []),
    );
    expect(forged.status).toBe(200);
    await eventually(
      "the forged callback's KIE read",
      () => recordInfoReads(harness),
      (n) => n > readsBefore,
    );
    expect(await jobRow(getDb(), jobId)).toMatchObject({ status: "pending", kieTaskId: null });

    // The genuine callback arrives when the task ends: the job is bound to it and settled.
    const settled = await settledRow(getDb(), jobId, 800);
    expect(settled).toMatchObject({ status: "succeeded", kieTaskId: kieTask?.taskId });
    expect(settled.resultUrls).toHaveLength(1);
    expect(await ledgerOf(getDb(), jobId)).toEqual({ reserve: 1, capture: 1 });
    expect(await creditsOf(harness, token)).toBe(9);
    // The owner can follow it by either id.
    for (const id of [jobId, kieTask?.taskId as string]) {
      expect(await readStatus(harness, token, id)).toMatchObject({
        taskId: kieTask?.taskId,
        status: "succeeded",
        creditsUsed: 1,
        sourceUrl: settled.resultUrls?.[0],
      });
    }
    expect(await ledgerOf(getDb(), theirRow.id)).toEqual({ reserve: 1, capture: 1 });
  });

  it("without APP_URL: nothing could ever find the task, so the credits are released at once", async () => {
    const harness = await startHarness({ database: getDb() });
    h = harness;
    const { token, userId } = await harness.signIn();
    harness.sim.setFaults(AMBIGUOUS_CREATE);

    await generateExpecting502(harness, token, "a request nobody will hear back about");
    expect(harness.sim.stats().tasksCreated).toBe(1);

    expect(await creditsOf(harness, token)).toBe(10);
    const rows = await getDb().db.query.generations.findMany({
      where: (g, { eq }) => eq(g.userId, userId),
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: "failed", kieTaskId: null });
    expect(await ledgerOf(getDb(), rows[0]?.id as string)).toEqual({ reserve: 1, release: 1 });
  });

  it.each([
    ["an HTTP 500", "createTask:http=500;times=1"],
    ["an unreadable answer", "createTask:malformed;times=1"],
  ])(
    "with callbacks, %s is a refusal, not a doubt: 502 and the credits come back at once",
    async (_name, rule) => {
      const harness = await startHarness({ database: getDb(), callbacks: true });
      h = harness;
      const { token } = await harness.signIn();
      harness.sim.setFaults(rule);

      const error = await generateExpecting502(harness, token, "refused outright");
      expect(error.taskId).toBeUndefined();
      expect(await creditsOf(harness, token)).toBe(10);
    },
  );
});
