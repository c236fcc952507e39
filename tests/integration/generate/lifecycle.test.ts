/**
 * POST /api/generate end to end against kie-sim: a sync success, an async job polled to success
 * and charged exactly once, and a task KIE fails (422, credits returned).
 */
import { expect, it } from "vitest";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  creditsOf,
  generateJson,
  getStatus,
  jobLedgerOf,
  kieWork,
  kindsOf,
  pollUntilSettled,
} from "./generateKit";

describeEachDatabase("POST /api/generate: job lifecycle", (getDb) => {
  const h = useHarness(() => ({ database: getDb(), env: { CREDITS_INITIAL: "10" } }));

  it("sync: 200 with the image, the credits used and the balance left, and a request id", async () => {
    const { token, userId } = await h.signIn();
    const before = kieWork(h).createTask;
    const res = await generateJson(
      h,
      { prompt: "a banana astronaut", aspectRatio: "16:9", outputFormat: "png" },
      { token, prefer: "wait" },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      status: "succeeded",
      creditsUsed: 1,
      remainingCredits: 9,
    });
    expect(typeof res.body.taskId).toBe("string");
    expect(res.body.imageUrl).toMatch(/^\/api\/images\//);
    expect(res.body.images).toEqual([res.body.imageUrl]);
    expect(res.headers.get("x-request-id")).toMatch(/\S/);
    // The image really exists where the answer says.
    const image = await h.fetch(res.body.imageUrl);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toMatch(/^image\//);

    expect(kieWork(h).createTask).toBe(before + 1);
    expect(await creditsOf(h, token)).toBe(9);
    expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(["capture", "reserve"]);
  });

  it("without a Prefer header the answer is async (KIE_USE_ASYNC defaults to true)", async () => {
    const { token } = await h.signIn();
    const res = await generateJson(h, { prompt: "default mode" }, { token });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.status).toBe("pending");
  });

  it("a request id sent by the client comes back on the answer", async () => {
    const { token } = await h.signIn();
    const res = await generateJson(
      h,
      { prompt: "request id echo" },
      { token, prefer: "respond-async", headers: { "x-request-id": "client-req-4711" } },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.headers.get("x-request-id")).toBe("client-req-4711");
  });

  it("async: 202 with statusUrl, Location and pollAfterMs; polled to success and charged exactly once", async () => {
    const { token, userId } = await h.signIn();
    const res = await generateJson(h, { prompt: "an async banana" }, { token, prefer: "respond-async" });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ success: true, status: "pending", remainingCredits: 9 });
    expect(res.body.statusUrl).toBe(`/api/generate/${encodeURIComponent(res.body.taskId)}`);
    expect(res.headers.get("location")).toBe(res.body.statusUrl);
    expect(res.body.pollAfterMs).toBeGreaterThan(0);
    expect(res.headers.get("x-request-id")).toMatch(/\S/);

    const settled = await pollUntilSettled(h, token, res.body.taskId);
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({
      success: true,
      taskId: res.body.taskId,
      status: "succeeded",
      creditsUsed: 1,
      remainingCredits: 9,
    });
    expect(settled.body.imageUrl).toMatch(/^\/api\/images\//);
    expect(settled.body.images).toEqual([settled.body.imageUrl]);

    // More polls after success read the same job and charge nothing more.
    for (let i = 0; i < 3; i++) {
      const again = await getStatus(h, token, res.body.taskId);
      expect(again.body).toMatchObject({ status: "succeeded", creditsUsed: 1 });
    }
    expect(await creditsOf(h, token)).toBe(9);
    const ledger = await jobLedgerOf(getDb(), userId);
    expect(kindsOf(ledger)).toEqual(["capture", "reserve"]);
    expect(ledger.every((row) => row.amount === 1)).toBe(true);
    expect(new Set(ledger.map((row) => row.generationId)).size).toBe(1);
  });

  it("a task KIE fails: 422 generation_failed with taskId and KIE's reason, nothing charged, status reads failed", async () => {
    const { token, userId } = await h.signIn();
    const res = await generateJson(
      h,
      { prompt: "something forbidden [sim:fail=Content policy violation]" },
      { token, prefer: "wait" },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.success).toBe(false);
    expect(res.body.error).toMatchObject({ code: "generation_failed" });
    expect(res.body.error.message).toContain("Content policy violation");
    expect(typeof res.body.error.taskId).toBe("string");
    expect(res.body.error.requestId).toBe(res.headers.get("x-request-id"));

    expect(await creditsOf(h, token)).toBe(10);
    expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(["release", "reserve"]);

    const status = await getStatus(h, token, res.body.error.taskId);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ status: "failed", creditsUsed: 0, remainingCredits: 10 });
    expect(status.body.error).toMatchObject({ code: "generation_failed" });
    expect(status.body.imageUrl).toBeUndefined();
  });

  it("async: a task KIE fails is polled to failed and its credits come back", async () => {
    const { token } = await h.signIn();
    const res = await generateJson(h, { prompt: "nope [sim:fail]" }, { token, prefer: "respond-async" });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.remainingCredits).toBe(9);
    const settled = await pollUntilSettled(h, token, res.body.taskId);
    expect(settled.body).toMatchObject({ status: "failed", creditsUsed: 0, remainingCredits: 10 });
    expect(await creditsOf(h, token)).toBe(10);
  });
});
