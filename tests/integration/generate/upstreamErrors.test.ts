/**
 * KIE refusing or breaking on createTask, as the user sees it: KIE's rate limit puts the job in
 * our line (docs/JOBS.md "The line"), never an error for the user; outages, garbage and the operator's account problems (bad key, KIE credits)
 * become a generic 502 that names none of KIE's detail. Nobody is charged for any of them.
 */
import { afterEach, describe, expect, it } from "vitest";
import { PUBLIC_ERRORS } from "@/lib/http/errors";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  creditsOf,
  generateJson,
  generateMultipart,
  getStatus,
  jobLedgerOf,
  kieWork,
  kindsOf,
  pngImage,
  pollUntilSettled,
} from "./generateKit";

const GENERIC_502 = PUBLIC_ERRORS.upstream_error.message;

describeEachDatabase("POST /api/generate: KIE errors on createTask", (getDb) => {
  describe("faults injected by kie-sim", () => {
    const h = useHarness(() => ({ database: getDb() }));
    afterEach(() => {
      h.sim.setFaults([]);
    });

    async function generateUnderFault(rule: string) {
      const { token, userId } = await h.signIn();
      h.sim.setFaults(rule);
      const before = kieWork(h).createTask;
      const res = await generateJson(h, { prompt: "a banana under stress" }, { token, prefer: "wait" });
      const createTaskCalls = kieWork(h).createTask - before;
      const tasks = h.sim.tasks().length;
      return { res, createTaskCalls, tasks, token, userId };
    }

    async function expectNothingCharged(token: string, userId: string) {
      expect(await creditsOf(h, token)).toBe(10);
      // The job was reserved and then released: the net is zero, and nothing is captured.
      expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(["release", "reserve"]);
    }

    it("KIE's HTTP 429 → the job waits in line, then runs; charged once", async () => {
      const { token, userId } = await h.signIn();
      const tasksBefore = h.sim.tasks().length;
      // Refused three times: the request's attempt, then the line's first two after KIE's Retry-After.
      h.sim.setFaults("createTask:http=429;retry-after=1;times=3");
      const res = await generateJson(h, { prompt: "a banana in line" }, { token, prefer: "respond-async" });
      // Not a 429 for the user: KIE created nothing, so the job waits in line for it.
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      expect(res.body).toMatchObject({ status: "pending", queuePosition: 1 });
      expect(h.sim.tasks().length).toBe(tasksBefore);
      expect(await creditsOf(h, token)).toBe(9); // reserved while it waits
      // After KIE's Retry-After the line sends it again; it runs and is charged once.
      const done = await pollUntilSettled(h, token, res.body.taskId as string, { timeoutMs: 30_000 });
      expect(done.body).toMatchObject({ status: "succeeded", creditsUsed: 1 });
      expect(done.body.queuePosition).toBeUndefined();
      expect(h.sim.tasks().length).toBe(tasksBefore + 1);
      expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(["capture", "reserve"]);
    });

    it("KIE's 429 as a body code with a long Retry-After → in line, and KIE's wait is honoured", async () => {
      const { token } = await h.signIn();
      h.sim.setFaults("createTask:body-code=429;retry-after=45;times=20");
      const before = kieWork(h).createTask;
      const res = await generateJson(h, { prompt: "a patient banana" }, { token, prefer: "respond-async" });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      expect(res.body).toMatchObject({ status: "pending", queuePosition: 1 });
      expect(kieWork(h).createTask - before).toBe(1); // no second attempt within KIE's 45 s
      const status = await getStatus(h, token, res.body.taskId as string);
      expect(status.body).toMatchObject({ status: "pending", queuePosition: 1 });
      expect(await creditsOf(h, token)).toBe(9); // reserved; released if it never runs
    });

    for (const [what, rule] of [
      ["HTTP 500", "createTask:http=500"],
      ["body code 500 in an HTTP 200", "createTask:body-code=500"],
      ["HTTP 503", "createTask:http=503"],
      ["a truncated JSON body", "createTask:malformed=json"],
      ["an HTML error page from a proxy", "createTask:malformed=html"],
      ["body code 402 (KIE account out of credits)", "createTask:body-code=402"],
      ["body code 433 (KIE key usage cap)", "createTask:body-code=433"],
      ["HTTP 401 (KIE refused the key)", "createTask:http=401"],
    ] as const) {
      it(`${what} → 502 upstream_error with the generic message, not charged`, async () => {
        const { res, createTaskCalls, token, userId } = await generateUnderFault(rule);
        expect(res.status, JSON.stringify(res.body)).toBe(502);
        expect(res.body.error).toMatchObject({ code: "upstream_error", message: GENERIC_502 });
        // Never retried: KIE may have created a paid task (5xx, garbage) or will refuse again.
        expect(createTaskCalls).toBe(1);
        await expectNothingCharged(token, userId);
      });
    }
  });

  describe("uploads failing", () => {
    const h = useHarness(() => ({ database: getDb() }));

    it("KIE's upload host failing (after its retries) → 502, no task created, not charged", async () => {
      const { token, userId } = await h.signIn();
      h.sim.setFaults("upload:http=500");
      const png = await pngImage();
      const form = new FormData();
      form.append("prompt", "edit me");
      form.append("images", new Blob([new Uint8Array(png)], { type: "image/png" }), "a.png");
      const before = kieWork(h);
      const res = await generateMultipart(h, form, { token, prefer: "wait" });
      h.sim.setFaults([]);
      expect(res.status, JSON.stringify(res.body)).toBe(502);
      expect(res.body.error).toMatchObject({ code: "upstream_error", message: GENERIC_502 });
      expect(kieWork(h).uploadCalls - before.uploadCalls).toBeGreaterThanOrEqual(1);
      expect(kieWork(h).createTask).toBe(before.createTask);
      expect(await creditsOf(h, token)).toBe(10);
      expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(["release", "reserve"]);
    });
  });

  describe("the app's KIE key is not one KIE accepts", () => {
    const h = useHarness(() => ({
      database: getDb(),
      env: { KIE_API_KEY: "sk-wrong-key-0123456789", DEV_SIGN_IN: "true" },
      sim: { apiKeys: ["sk-the-right-key-9876543210"] },
    }));

    it("→ 502 with the generic message (nothing about keys), not charged; the log has the detail", async () => {
      const { token, userId } = await h.signIn();
      const res = await generateJson(h, { prompt: "a banana" }, { token, prefer: "wait" });
      expect(res.status, JSON.stringify(res.body)).toBe(502);
      expect(res.body.error).toMatchObject({ code: "upstream_error", message: GENERIC_502 });
      expect(JSON.stringify(res.body)).not.toMatch(/api key|invalid|401|sk-/i);
      expect(h.sim.stats().authFailures).toBeGreaterThanOrEqual(1);
      expect(h.sim.tasks()).toHaveLength(0);
      expect(await creditsOf(h, token)).toBe(10);
      expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(["release", "reserve"]);
      // The operator can tell why from the log.
      expect(h.logs()).toMatch(/auth|401/i);
    });
  });
});
