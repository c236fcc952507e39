/**
 * Smoke test against the real KIE API. It spends real KIE credits (one text-to-image task), so it
 * runs only when asked: KIE_E2E=1 and KIE_API_KEY set (KIE_BASE_URL / KIE_UPLOAD_BASE_URL optional).
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { KIE_DEFAULT_BASE_URL, KIE_DEFAULT_UPLOAD_BASE_URL } from "@/config";
import { KieClient } from "@/lib/kie/KieClient";
import { pollTask } from "@/tests/helpers/kiePoll";

const apiKey = process.env.KIE_API_KEY;
const enabled = process.env.KIE_E2E === "1" && Boolean(apiKey);
const SKIP_REASON = "needs KIE_E2E=1 and KIE_API_KEY (spends real KIE credits)";

if (!enabled) {
  console.warn(`[real-kie.e2e] skipped: ${SKIP_REASON}`);
  describe("real KIE smoke test", () => {
    it.skip(SKIP_REASON, () => {});
  });
} else {
  describe("real KIE smoke test", () => {
    const client = new KieClient({
      apiKey: apiKey as string,
      baseUrl: process.env.KIE_BASE_URL ?? KIE_DEFAULT_BASE_URL,
      uploadBaseUrl: process.env.KIE_UPLOAD_BASE_URL ?? KIE_DEFAULT_UPLOAD_BASE_URL,
      requestTimeoutMs: 30_000,
    });
    afterAll(() => client.close());

    it("creates a text-to-image task and waits for a result URL", { timeout: 6 * 60_000 }, async () => {
      const requestId = `e2e-${randomUUID()}`;
      const { taskId, model, warnings } = await client.generateImage(
        {
          prompt: "A small yellow banana on a white table, studio photo",
          aspectRatio: "1:1",
          outputFormat: "png",
        },
        { requestId },
      );
      expect(taskId).toMatch(/\S/);
      expect(model).toBe("google/nano-banana");
      expect(warnings).toEqual([]);
      const states: string[] = [];
      // KIE's advice (kie-api.md): poll every 2–3 s, give up after 10–15 minutes.
      const record = await pollTask(client, taskId, {
        requestId,
        budgetMs: 5 * 60_000,
        intervalMs: 3_000,
        onRecord: (r) => {
          const state = r.rawState ?? r.state;
          if (states.at(-1) !== state) states.push(state);
        },
      });
      console.info(`[real-kie.e2e] task ${taskId} states: ${states.join(" → ")}`);
      expect(record.state).toBe("success");
      expect(record.resultUrls.length).toBeGreaterThan(0);
      // real KIE serves https; an overridden KIE_BASE_URL (e.g. kie-sim) may serve http
      expect(record.resultUrls[0]).toMatch(/^https?:\/\//);
    });
  });
}
