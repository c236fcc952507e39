/**
 * KIE refusing or breaking on createTask, as the user sees it: KIE's rate limit becomes our 429
 * with Retry-After; outages, garbage and the operator's account problems (bad key, KIE credits)
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
  jobLedgerOf,
  kieWork,
  kindsOf,
  pngImage,
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

    it("KIE's HTTP 429 → our 429 rate_limited with Retry-After, createTask not retried in a loop", async () => {
      const tasksBefore = h.sim.tasks().length;
      const { res, createTaskCalls, tasks, token, userId } = await generateUnderFault(
        "createTask:http=429;retry-after=1;times=20",
      );
      expect(res.status, JSON.stringify(res.body)).toBe(429);
      expect(res.body.error).toMatchObject({ code: "rate_limited", retryAfterSeconds: 1 });
      expect(res.headers.get("retry-after")).toBe("1");
      // Every createTask KIE sees takes a token of the account budget first: the client does not
      // retry KIE's 429 on its own (DESIGN.md §5) ...
      expect(createTaskCalls).toBe(1);
      // ... and no task was created.
      expect(tasks).toBe(tasksBefore);
      await expectNothingCharged(token, userId);
    });

    it("KIE's 429 as a body code with a long Retry-After → our 429 carrying KIE's wait", async () => {
      // 45 s is more than the app waits for while a user waits, so it gives up at once and passes the wait on.
      const { res, createTaskCalls, token, userId } = await generateUnderFault(
        "createTask:body-code=429;retry-after=45;times=20",
      );
      expect(res.status, JSON.stringify(res.body)).toBe(429);
      expect(res.body.error).toMatchObject({ code: "rate_limited", retryAfterSeconds: 45 });
      expect(res.headers.get("retry-after")).toBe("45");
      expect(createTaskCalls).toBe(1);
      await expectNothingCharged(token, userId);
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
