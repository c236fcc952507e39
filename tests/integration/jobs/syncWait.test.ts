/**
 * A sync generate (`Prefer: wait`) ends right (issue 10, items 1, 5 and 8):
 * - a settlement that lands while the request is itself reading KIE is not missed (200, not 504);
 * - the answer comes within KIE_POLL_BUDGET_MS + 1 s even when KIE's reads hang;
 * - a client that goes away stops the wait and its KIE read at once.
 */
import { afterEach, expect, it } from "vitest";
import type { IKieClient } from "@/lib/kie";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { creditsOf, generateJson } from "../generate/generateKit";
import { isOpenStatus, jobRow, ledgerOf, pause, recordInfoReads } from "./jobKit";

describeEachDatabase("jobs: sync wait ends right", (getDb) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /**
   * KIE answers the first status read late: the answer is what KIE said when asked, delivered only
   * once the job has been settled by someone else (or the reader gives up) — a slow network.
   */
  function holdFirstRead(harness: Harness, maxHoldMs: number): { held: () => boolean } {
    const kie = harness.app.kie as IKieClient;
    const real = kie.getTaskStatus.bind(kie);
    let first = true;
    let held = false;
    kie.getTaskStatus = async (taskId, opts) => {
      const record = await real(taskId, opts);
      if (!first) return record;
      first = false;
      held = true;
      const until = performance.now() + maxHoldMs;
      while (performance.now() < until) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        const rows = await harness.app.database.db.query.generations.findMany();
        if (rows.some((row) => row.kieTaskId === taskId && !isOpenStatus(row.status))) break;
        await pause(25);
      }
      return record;
    };
    return { held: () => held };
  }

  it("a settlement landing during the request's own KIE read answers 200 succeeded, not 504", async () => {
    // Budget 9 s: the request gives the callback 3 s, then reads KIE itself (held, see above); the
    // task ends at ~4.5 s and its callback settles the job while that read is still out.
    const harness = await startHarness({
      database: getDb(),
      callbacks: true,
      env: { KIE_POLL_BUDGET_MS: "9000" },
    });
    h = harness;
    const hold = holdFirstRead(harness, 7_000);
    const { token } = await harness.signIn();

    const started = performance.now();
    const res = await generateJson(
      harness,
      { prompt: "[sim:delay=4500] a race at the finish line" },
      { token, prefer: "wait" },
    );
    const elapsed = performance.now() - started;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: "succeeded", creditsUsed: 1, remainingCredits: 9 });
    expect(hold.held()).toBe(true);
    expect(elapsed).toBeLessThan(9_000);
    const row = await jobRow(getDb(), res.body.taskId);
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
  });

  it("hanging KIE reads: the sync answer (504 with taskId) comes within the budget + 1 s", async () => {
    const harness = await startHarness({ database: getDb(), env: { KIE_POLL_BUDGET_MS: "2000" } });
    h = harness;
    harness.sim.setFaults("recordInfo:hang");
    const { token } = await harness.signIn();

    const started = performance.now();
    const res = await generateJson(harness, { prompt: "a hung line" }, { token, prefer: "wait" });
    const elapsed = performance.now() - started;
    expect(res.status, JSON.stringify(res.body)).toBe(504);
    expect(res.body.error).toMatchObject({ code: "upstream_timeout" });
    expect(typeof res.body.error.taskId).toBe("string");
    expect(elapsed).toBeLessThan(2_000 + 1_000);
    // One read at a time, no retries piling up behind a hung one.
    expect(recordInfoReads(harness)).toBeLessThanOrEqual(3);
    expect(await creditsOf(harness, token)).toBe(9); // the job carries on, its reserve held
    harness.sim.setFaults([]);
  }, 20_000);

  it("a client that goes away ends the wait at once and reads KIE no more", async () => {
    const harness = await startHarness({ database: getDb(), env: { KIE_POLL_BUDGET_MS: "20000" } });
    h = harness;
    harness.sim.setFaults("recordInfo:hang");
    const { token } = await harness.signIn();

    const controller = new AbortController();
    const answered = harness
      .fetch("/api/generate", {
        method: "POST",
        token,
        headers: { "content-type": "application/json", prefer: "wait" },
        body: JSON.stringify({ prompt: "[sim:never] a tab closed mid-wait" }),
        signal: controller.signal,
      })
      .then(() => performance.now());
    // Wait until the request is reading KIE (hung), then leave.
    for (let i = 0; i < 200 && recordInfoReads(harness) === 0; i++) await pause(25);
    expect(recordInfoReads(harness)).toBe(1);
    const left = performance.now();
    controller.abort();
    const endedAt = await answered;
    expect(endedAt - left).toBeLessThan(1_000);
    await pause(2_500);
    expect(recordInfoReads(harness)).toBe(1);
    harness.sim.setFaults([]);
  }, 20_000);
});
