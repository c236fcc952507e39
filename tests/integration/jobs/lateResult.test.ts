/**
 * A result KIE delivers after the job timed out (docs/JOBS.md "Decisions"): the job stays
 * `timeout`, its credits stay released (creditsUsed 0), and the image is attached as a free late
 * delivery. A late failure changes nothing.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
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

describeEachDatabase("jobs: a result after the timeout", (getDb) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ database: getDb(), callbacks: true, env: { KIE_TIMEOUT_MS: "1000" } });
  });
  afterEach(async () => {
    await h?.close();
  });

  /** Polls until the job reads `timeout` (KIE_TIMEOUT_MS is 1 s; the KIE task takes longer). */
  async function timedOut(token: string, taskId: string) {
    const answer = await eventually(
      "the job to time out",
      () => readStatus(h, token, taskId),
      (a) => !isOpenStatus(a.status),
      { attempts: 80, intervalMs: 50 },
    );
    expect(answer).toMatchObject({ status: "timeout", creditsUsed: 0, remainingCredits: 10 });
    expect(answer.imageUrl).toBeUndefined();
    expect(simTask(h, taskId).state).not.toMatch(/^(success|fail)$/);
    return answer;
  }

  it("keeps the job timed out and free, and attaches the late image (once, even if KIE calls twice)", async () => {
    const { token } = await h.signIn();
    const { taskId } = await startJob(h, token, "[sim:delay=3000] [sim:callback=duplicate] a latecomer");
    await timedOut(token, taskId);

    const row = await eventually(
      "the late image to be attached",
      () => jobRow(getDb(), taskId),
      (r) => r.resultUrls !== null,
      { attempts: 200, intervalMs: 25 },
    );
    const resultUrl = simTask(h, taskId).resultUrl;
    expect(row).toMatchObject({ status: "timeout", resultUrls: [resultUrl] });
    await eventually(
      "both callbacks",
      () => h.sim.stats(),
      (s) => s.callbacksSent === 2 && s.callbacksFailed === 0,
    );

    expect(await readStatus(h, token, taskId)).toMatchObject({
      status: "timeout",
      creditsUsed: 0,
      remainingCredits: 10,
      sourceUrl: resultUrl,
      imageUrl: expect.stringMatching(/\/api\/images\/[0-9a-f-]{36}\?/),
    });
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, release: 1 });
    expect(await creditsOf(h, token)).toBe(10);
  });

  it("also when createTask was ambiguous: the late callback attaches its task and image, free", async () => {
    const { token } = await h.signIn();
    h.sim.setFaults("createTask:reset;after;times=1");
    const response = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": "application/json", prefer: "respond-async" },
      body: JSON.stringify({ prompt: "[sim:delay=2500] lost, then found" }),
    });
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(502);
    const jobId = body.error.taskId as string;
    const [kieTask] = h.sim.tasks();

    const answer = await eventually(
      "the job to time out",
      () => readStatus(h, token, jobId),
      (a) => !isOpenStatus(a.status),
      { attempts: 80, intervalMs: 50 },
    );
    expect(answer).toMatchObject({ status: "timeout", creditsUsed: 0, remainingCredits: 10 });
    expect(h.sim.task(kieTask?.taskId as string)?.state).not.toBe("success");

    const row = await eventually(
      "the late image to be attached",
      () => jobRow(getDb(), jobId),
      (r) => r.resultUrls !== null,
      { attempts: 200, intervalMs: 25 },
    );
    const resultUrl = h.sim.task(kieTask?.taskId as string)?.resultUrl;
    expect(row).toMatchObject({ status: "timeout", kieTaskId: kieTask?.taskId, resultUrls: [resultUrl] });
    expect(await readStatus(h, token, jobId)).toMatchObject({
      status: "timeout",
      creditsUsed: 0,
      remainingCredits: 10,
      sourceUrl: resultUrl,
      imageUrl: expect.stringMatching(/\/api\/images\/[0-9a-f-]{36}\?/),
    });
    expect(await ledgerOf(getDb(), jobId)).toEqual({ reserve: 1, release: 1 });
  });

  it("a timed-out job's callback reads KIE again when its read fails: the late image is still attached", async () => {
    const { token } = await h.signIn();
    const { taskId } = await startJob(h, token, "[sim:delay=3000] a latecomer behind a bad gateway");
    await timedOut(token, taskId);
    // Every read of the callback's first look fails (the client's own retries included).
    h.sim.setFaults("recordInfo:http=503;times=3");

    const row = await eventually(
      "the late image to be attached",
      () => jobRow(getDb(), taskId),
      (r) => r.resultUrls !== null,
      { attempts: 320, intervalMs: 25 },
    );
    expect(row).toMatchObject({ status: "timeout", resultUrls: [simTask(h, taskId).resultUrl] });
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, release: 1 });
  });

  it("a failure after the timeout changes nothing", async () => {
    const { token } = await h.signIn();
    const { taskId } = await startJob(h, token, "[sim:delay=2500] [sim:fail] a late refusal");
    await timedOut(token, taskId);
    const readsAtTimeout = recordInfoReads(h);

    await eventually(
      "the failure callback",
      () => simTask(h, taskId),
      (t) => t.callbacksSent === 1,
    );
    await eventually(
      "its re-read of KIE",
      () => recordInfoReads(h),
      (n) => n > readsAtTimeout,
    );

    const row = await jobRow(getDb(), taskId);
    expect(row).toMatchObject({ status: "timeout", resultUrls: null, errorCode: "upstream_timeout" });
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, release: 1 });
    expect(await creditsOf(h, token)).toBe(10);
  });
});

describeEachDatabase("jobs: a success seen at the timeout whose copy fails", (getDb) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ database: getDb() });
  });
  afterEach(async () => {
    await h?.close();
  });

  it("times the job out with the result attached (free), and copies it once KIE's file can be fetched", async () => {
    const { token } = await h.signIn();
    const { taskId } = await startJob(h, token, "a result behind a broken file host");
    await eventually(
      "the KIE task to finish",
      () => simTask(h, taskId),
      (task) => task.state === "success",
    );
    const { id } = await jobRow(getDb(), taskId);
    await backdate(getDb(), id, 200); // past KIE_TIMEOUT_MS (180 s): the next look is the last
    h.sim.setFaults("files:http=503"); // KIE's file host fails: the copy cannot be made now

    const answer = await readStatus(h, token, taskId);
    expect(answer).toMatchObject({ status: "timeout", creditsUsed: 0, remainingCredits: 10 });
    const resultUrl = simTask(h, taskId).resultUrl;
    expect(await jobRow(getDb(), taskId)).toMatchObject({ status: "timeout", resultUrls: [resultUrl] });
    expect(await ledgerOf(getDb(), id)).toEqual({ reserve: 1, release: 1 });

    h.sim.setFaults([]);
    await h.app.sweep();
    expect((await jobRow(getDb(), taskId)).imageStoredAt).not.toBeNull();
    expect(await readStatus(h, token, taskId)).toMatchObject({
      status: "timeout",
      creditsUsed: 0,
      imageUrl: expect.stringMatching(/\/api\/images\/[0-9a-f-]{36}\?/),
    });
  });
});
