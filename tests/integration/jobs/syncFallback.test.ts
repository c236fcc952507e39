/**
 * A waiting (sync) request with callbacks configured, whose callback never comes: it must still
 * find the finished image by reading KIE itself within its budget (docs/JOBS.md).
 */
import { expect, it } from "vitest";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";

describeEachDatabase("jobs: sync wait without the expected callback", (getDb) => {
  const h = useHarness(() => ({ database: getDb(), callbacks: true, env: { KIE_POLL_BUDGET_MS: "4000" } }));

  it("answers 200 with the image although KIE never calls back, within its budget and with few KIE reads", async () => {
    const { token } = await h.signIn();
    const readsBefore = h.sim.stats().calls.recordInfo;
    const started = performance.now();
    const response = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": "application/json", prefer: "wait" },
      body: JSON.stringify({ prompt: "[sim:callback=none] a quiet banana" }),
    });
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ status: "succeeded", creditsUsed: 1 });
    expect(h.sim.stats().callbacksSent).toBe(0);
    // It waited for the callback for a third of its budget, then found the image by reading KIE
    // itself, well within the budget (+1 s), with a handful of reads (backoff, not a busy loop).
    expect(performance.now() - started).toBeLessThan(4_000 + 1_000);
    const reads = h.sim.stats().calls.recordInfo - readsBefore;
    expect(reads).toBeGreaterThanOrEqual(1);
    expect(reads).toBeLessThanOrEqual(4);
  });
});
