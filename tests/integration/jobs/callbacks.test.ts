/**
 * KIE's completion callback settles jobs (DESIGN.md §5, kie-api.md "Callback"): with APP_URL set a
 * job costs about one KIE status read however often clients poll; duplicated, late, early and
 * reordered callbacks settle each job once; forged callbacks change nothing; a genuine callback
 * is answered before the job is settled from KIE.
 */
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  backdate,
  callbackBody,
  creditsOf,
  eventually,
  isOpenStatus,
  jobRow,
  ledgerOf,
  pause,
  postCallback,
  readStatus,
  recordInfoReads,
  type StatusBody,
  settledRow,
  simTask,
  startJob,
} from "./jobKit";

describeEachDatabase("jobs: KIE callbacks", (getDb) => {
  let h: Harness;
  beforeEach(async () => {
    // One harness per test: the simulator's call counters then belong to this test alone.
    h = await startHarness({ database: getDb(), callbacks: true });
  });
  afterEach(async () => {
    await h?.close();
  });

  /** Fires `size` concurrent status polls; returns their answers. */
  const burst = (token: string, taskId: string, size: number) =>
    Promise.all(Array.from({ length: size }, () => readStatus(h, token, taskId)));

  it("settles a job by its callback with at most 2 KIE status reads however often clients poll", async () => {
    const { token } = await h.signIn();
    const { taskId } = await startJob(h, token, "a lighthouse at dusk");

    let polls = 0;
    let settled: StatusBody | undefined;
    for (let round = 0; round < 200 && !settled; round++) {
      const answers = await burst(token, taskId, 20);
      polls += answers.length;
      settled = answers.find((answer) => !isOpenStatus(answer.status));
      if (!settled) await pause(20);
    }
    // Polls after the end answer from the row as well.
    for (let round = 0; round < 3; round++) {
      const answers = await burst(token, taskId, 20);
      polls += answers.length;
      for (const answer of answers) expect(answer.status).toBe("succeeded");
    }

    expect(settled).toMatchObject({ status: "succeeded", creditsUsed: 1, remainingCredits: 9 });
    // Our link to the stored copy; KIE's own URL stays as sourceUrl (DESIGN.md §9).
    // (absolute: APP_URL is set for callbacks).
    expect(settled?.imageUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/images\/[0-9a-f-]{36}\?/);
    expect(settled?.sourceUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/results\//);
    expect(polls).toBeGreaterThanOrEqual(80);
    expect(recordInfoReads(h)).toBeLessThanOrEqual(2);
    expect(simTask(h, taskId).callbacksSent).toBe(1);
    const row = await jobRow(getDb(), taskId);
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
    expect(await creditsOf(h, token)).toBe(9);
  });

  it("a duplicated callback settles the job once", async () => {
    const { token } = await h.signIn();
    const { taskId } = await startJob(h, token, "[sim:callback=duplicate] a red kite");

    const row = await settledRow(getDb(), taskId);
    await eventually(
      "both callbacks to be answered",
      () => h.sim.stats(),
      (stats) => stats.callbacksSent === 2,
    );
    expect(h.sim.stats().callbacksFailed).toBe(0);
    expect(row.status).toBe("succeeded");
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
    expect(await creditsOf(h, token)).toBe(9);
    expect(await readStatus(h, token, taskId)).toMatchObject({ status: "succeeded", creditsUsed: 1 });
    expect(recordInfoReads(h)).toBeLessThanOrEqual(2);
  });

  it("a late callback settles the job; polls before it do not read KIE", async () => {
    const { token } = await h.signIn();
    // The callback comes 4 s after the task ended: ample time for the polls below to run first.
    const { taskId } = await startJob(h, token, "[sim:callback=late=4000] a slow tortoise");

    await eventually(
      "the KIE task to finish",
      () => simTask(h, taskId),
      (task) => task.state === "success",
    );
    // The task is done at KIE but its callback has not come yet: polls answer from the row,
    // without reading KIE.
    for (let poll = 0; poll < 5; poll++) {
      const early = await readStatus(h, token, taskId);
      expect(isOpenStatus(early.status)).toBe(true);
      await pause(50);
    }
    expect(simTask(h, taskId).callbacksSent).toBe(0);
    expect(recordInfoReads(h)).toBe(0);

    const row = await settledRow(getDb(), taskId, 400); // ≤ 10 s
    expect(simTask(h, taskId).callbacksSent).toBe(1);
    expect(row.status).toBe("succeeded");
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
    expect(await creditsOf(h, token)).toBe(9);
    expect(recordInfoReads(h)).toBeLessThanOrEqual(2);
  });

  it("reordered callbacks settle each job once, with the right balance", async () => {
    const { token } = await h.signIn();
    const held = await startJob(h, token, "[sim:callback=reorder] the first");
    const other = await startJob(h, token, "the second");

    const [heldRow, otherRow] = await Promise.all([
      settledRow(getDb(), held.taskId),
      settledRow(getDb(), other.taskId),
    ]);
    expect(heldRow.status).toBe("succeeded");
    expect(otherRow.status).toBe("succeeded");
    expect(await ledgerOf(getDb(), heldRow.id)).toEqual({ reserve: 1, capture: 1 });
    expect(await ledgerOf(getDb(), otherRow.id)).toEqual({ reserve: 1, capture: 1 });
    expect(await creditsOf(h, token)).toBe(8);
    expect(h.sim.stats()).toMatchObject({ callbacksSent: 2, callbacksFailed: 0 });
    expect(recordInfoReads(h)).toBeLessThanOrEqual(4);
  });

  it("an early callback (KIE's record still says generating) leaves the job open, and it settles later", async () => {
    const { token } = await h.signIn();
    const { taskId } = await startJob(h, token, "[sim:callback=early] an impatient bird");

    await eventually(
      "the early callback",
      () => simTask(h, taskId),
      (task) => task.callbacksSent === 1,
    );
    await eventually(
      "the KIE task to finish",
      () => simTask(h, taskId),
      (task) => task.state === "success",
    );
    const row = await jobRow(getDb(), taskId);
    expect(isOpenStatus(row.status)).toBe(true);
    expect(row.resultUrls).toBeNull();

    // Once the callback counts as late, a poll reads KIE and delivers the image.
    await backdate(getDb(), row.id, 16);
    const done = await eventually(
      "a poll to settle the job",
      () => readStatus(h, token, taskId),
      (answer) => !isOpenStatus(answer.status),
      { attempts: 100, intervalMs: 50 },
    );
    expect(done).toMatchObject({ status: "succeeded", creditsUsed: 1, remainingCredits: 9 });
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
  });

  it("forged callbacks are refused (4xx) or ignored, and leave the job as it was", async () => {
    const { token } = await h.signIn();
    const { taskId } = await startJob(h, token, "[sim:never] a job that never ends");
    // Someone else's finished task, whose id a forger might put in the body.
    const stranger = await h.signIn();
    const finished = await startJob(h, stranger.token, "a finished job");
    const finishedRow = await settledRow(getDb(), finished.taskId);
    expect(finishedRow.status).toBe("succeeded");

    const genuine = new URL(simTask(h, taskId).callBackUrl as string);
    const job = genuine.searchParams.get("job") as string;
    const realToken = genuine.searchParams.get("token") as string;
    const urlWith = (params: Record<string, string>) => {
      const url = new URL(genuine.pathname, genuine.origin);
      for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
      return url.toString();
    };
    const claimSuccess = callbackBody(taskId, "success", ["https://evil.example/forged.png"]);

    const readsBefore = recordInfoReads(h);
    const refusals: [string, string, unknown, number][] = [
      ["wrong token", urlWith({ job, token: `${realToken.slice(0, -2)}xx` }), claimSuccess, 403],
      ["missing token", urlWith({ job }), claimSuccess, 404],
      ["empty token", urlWith({ job, token: "" }), claimSuccess, 404],
      ["unknown job", urlWith({ job: randomUUID(), token: realToken }), claimSuccess, 404],
      ["job that is not an id", urlWith({ job: "1 OR 1=1", token: realToken }), claimSuccess, 404],
      ["not a KIE body", urlWith({ job, token: realToken }), { hello: "world" }, 400],
      [
        "another task than the job's",
        urlWith({ job, token: realToken }),
        callbackBody(finished.taskId, "success", finishedRow.resultUrls ?? []),
        403,
      ],
    ];
    for (const [what, url, body, status] of refusals) {
      const response = await postCallback(url, body);
      expect(response.status, what).toBe(status);
      expect((await response.json()).success, what).toBe(false);
    }
    // Refused before any work: KIE was not even asked.
    expect(recordInfoReads(h)).toBe(readsBefore);

    // The genuine token with a body claiming success: accepted, but KIE (re-read) says generating.
    const accepted = await postCallback(genuine.toString(), claimSuccess);
    expect(accepted.status).toBe(200);
    await eventually(
      "the callback's re-read of KIE",
      () => recordInfoReads(h),
      (n) => n > readsBefore,
    );

    const after = await eventually(
      "the re-read to be applied",
      () => jobRow(getDb(), taskId),
      (row) => row.status === "processing",
    );
    expect(after.resultUrls).toBeNull();
    expect(after.settledAt).toBeNull();
    expect(await ledgerOf(getDb(), after.id)).toEqual({ reserve: 1 });
    expect(await creditsOf(h, token)).toBe(9);
    expect(await readStatus(h, token, taskId)).toMatchObject({ status: "processing" });
    expect(simTask(h, taskId).state).toBe("generating");
    // The stranger's job is untouched too.
    expect(await ledgerOf(getDb(), finishedRow.id)).toEqual({ reserve: 1, capture: 1 });
    expect((await jobRow(getDb(), finished.taskId)).userId).toBe(stranger.userId);
  });

  it("answers a genuine callback at once, before KIE is re-read and the job settles", async () => {
    const { token } = await h.signIn();
    const { taskId } = await startJob(h, token, "[sim:callback=none] a quiet harbour");
    const task = await eventually(
      "the KIE task to finish",
      () => simTask(h, taskId),
      (t) => t.state === "success",
    );
    h.sim.setFaults("recordInfo:latency=1500");

    const response = await postCallback(task.callBackUrl as string, {
      code: 200,
      msg: "Playground task completed successfully.",
      data: { taskId, state: "success", resultJson: task.resultJson },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ success: true });
    // The answer came while KIE (slow) was still being asked: the job is not settled yet.
    const right = await jobRow(getDb(), taskId);
    expect(isOpenStatus(right.status)).toBe(true);

    const row = await settledRow(getDb(), taskId);
    expect(row.status).toBe("succeeded");
    expect(row.resultUrls).toEqual([task.resultUrl]);
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
    expect(recordInfoReads(h)).toBe(1);
    h.sim.setFaults([]);
  });
});
