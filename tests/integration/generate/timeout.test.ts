/**
 * A task KIE never finishes: the sync request gives up after KIE_POLL_BUDGET_MS with 504
 * upstream_timeout and the taskId (the job carries on); once KIE_TIMEOUT_MS has passed the job reads
 * `timeout` and the credits are back.
 */
import { expect, it } from "vitest";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { creditsOf, generateJson, getStatus, jobLedgerOf, kindsOf, pollUntilSettled } from "./generateKit";

const POLL_BUDGET_MS = 300;
// Short, yet long enough that the status read right after the 504 still finds the job open.
const JOB_TIMEOUT_MS = 2_000;

describeEachDatabase("POST /api/generate: a task that never finishes", (getDb) => {
  const h = useHarness(() => ({
    database: getDb(),
    env: { KIE_POLL_BUDGET_MS: String(POLL_BUDGET_MS), KIE_TIMEOUT_MS: String(JOB_TIMEOUT_MS) },
  }));

  it("sync → 504 upstream_timeout with taskId; after KIE_TIMEOUT_MS it reads `timeout` and the credits are back", async () => {
    const { token, userId } = await h.signIn();
    const readsBefore = h.sim.stats().calls.recordInfo;
    const started = performance.now();
    const res = await generateJson(h, { prompt: "an endless banana [sim:never]" }, { token, prefer: "wait" });
    // Within the budget (+1 s), after at most a couple of KIE reads.
    expect(performance.now() - started).toBeLessThan(POLL_BUDGET_MS + 1_000);
    expect(h.sim.stats().calls.recordInfo - readsBefore).toBeLessThanOrEqual(2);
    expect(res.status, JSON.stringify(res.body)).toBe(504);
    expect(res.body.error).toMatchObject({ code: "upstream_timeout" });
    const taskId: string = res.body.error.taskId;
    expect(typeof taskId).toBe("string");
    expect(h.sim.task(taskId)?.state).toBe("generating");

    // The job carries on, still holding the reserved credit.
    const open = await getStatus(h, token, taskId);
    expect(open.status).toBe(200);
    expect(["pending", "processing"]).toContain(open.body.status);
    expect(open.body.remainingCredits).toBe(9);

    // Polling (bounded) past KIE_TIMEOUT_MS: the job times out and its reserve is released.
    const settled = await pollUntilSettled(h, token, taskId, { timeoutMs: JOB_TIMEOUT_MS + 10_000 });
    expect(settled.body).toMatchObject({ status: "timeout", creditsUsed: 0, remainingCredits: 10 });
    expect(settled.body.error).toMatchObject({ code: "upstream_timeout" });
    expect(settled.body.imageUrl).toBeUndefined();
    expect(await creditsOf(h, token)).toBe(10);
    expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(["release", "reserve"]);

    // Reading it again changes nothing.
    expect((await getStatus(h, token, taskId)).body).toMatchObject({
      status: "timeout",
      remainingCredits: 10,
    });
    expect(await creditsOf(h, token)).toBe(10);
  });

  it("retrying the 504 with its Idempotency-Key replays it: no second KIE task, no second reserve", async () => {
    const { token, userId } = await h.signIn();
    const tasksBefore = h.sim.tasks().length;
    const request = { prompt: "endless, retried [sim:never]" };
    const first = await generateJson(h, request, { token, prefer: "wait", idempotencyKey: "endless-1" });
    expect(first.status, JSON.stringify(first.body)).toBe(504);
    const retry = await generateJson(h, request, { token, prefer: "wait", idempotencyKey: "endless-1" });
    expect(retry.status).toBe(504);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(h.sim.tasks().length - tasksBefore).toBe(1);
    expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(["reserve"]);
  });

  it("async: a never-finishing job also ends `timeout` with its credits returned", async () => {
    const { token } = await h.signIn();
    const res = await generateJson(
      h,
      { prompt: "another endless banana [sim:never]" },
      { token, prefer: "respond-async" },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.remainingCredits).toBe(9);
    const settled = await pollUntilSettled(h, token, res.body.taskId, { timeoutMs: JOB_TIMEOUT_MS + 10_000 });
    expect(settled.body).toMatchObject({ status: "timeout", creditsUsed: 0, remainingCredits: 10 });
  });
});
