import { afterEach, describe, expect, it } from "vitest";
import type { TaskRecord } from "@/lib/kie/dto";
import { AuthError, TaskFailedError, TimeoutError } from "@/lib/kie/errors";
import { captureError, JSON_HEADERS, type Kit, makeKit, ok, START } from "./kieTestKit";

const RECORD = { path: "/api/v1/jobs/recordInfo", method: "GET", query: { taskId: "t1" } } as const;
const NOT_WRITTEN = { code: 422, msg: "recordInfo is null", data: null };
const state = (s: string, extra: Record<string, unknown> = {}) => ok({ taskId: "t1", state: s, ...extra });
const SUCCESS = state("success", {
  resultJson: JSON.stringify({ resultUrls: ["https://tempfile.aiquickdraw.com/p/r.png"] }),
});
const BASE = {
  requestId: "req-wait",
  budgetMs: 90_000,
  initialDelayMs: 2_000,
  maxDelayMs: 10_000,
  minDelayMs: 1_000,
};

let kit: Kit | undefined;
afterEach(async () => {
  await kit?.agent.close();
  kit = undefined;
});

function reply(k: Kit, ...bodies: unknown[]) {
  for (const body of bodies) k.api.intercept(RECORD).reply(200, body as object, JSON_HEADERS);
}

describe("waitForTask", () => {
  it("polls until success and reports each state change once", async () => {
    kit = makeKit();
    reply(
      kit,
      NOT_WRITTEN,
      state("waiting"),
      state("queuing"),
      state("generating"),
      state("generating"),
      SUCCESS,
    );
    const updates: TaskRecord[] = [];
    const record = await kit.client.waitForTask("t1", { ...BASE, onUpdate: (r) => updates.push(r) });
    expect(record.state).toBe("success");
    expect(record.resultUrls).toEqual(["https://tempfile.aiquickdraw.com/p/r.png"]);
    expect(updates.map((u) => u.state)).toEqual(["pending", "waiting", "queuing", "generating", "success"]);
    expect(kit.calls()).toHaveLength(6);
    kit.agent.assertNoPendingInterceptors();
  });

  it("waits initialDelayMs first, then backs off with jitter between the floor and maxDelayMs", async () => {
    const draws = [0, 1, 0.5, 1, 1, 1, 1];
    kit = makeKit({ random: () => draws.shift() ?? 1 });
    reply(kit, ...Array(7).fill(state("generating")), SUCCESS);
    await kit.client.waitForTask("t1", BASE);
    const [initial, ...between] = kit.sleeps;
    expect(initial).toBe(2_000);
    // windows: 2000, 4000, 8000, then capped at 10000; the floor lifts the 0 draw to 1000
    expect(between).toEqual([1_000, 4_000, 4_000, 10_000, 10_000, 10_000, 10_000]);
    for (const ms of between) {
      expect(ms).toBeGreaterThanOrEqual(1_000);
      expect(ms).toBeLessThanOrEqual(10_000);
    }
  });

  it("logs each state transition with the elapsed time", async () => {
    kit = makeKit({ random: () => 1 });
    reply(kit, state("generating"), SUCCESS);
    await kit.client.waitForTask("t1", BASE);
    const transitions = kit.logs.filter((l) => l.msg === "kie task state").map((l) => l.obj);
    expect(transitions).toEqual([
      { requestId: "req-wait", taskId: "t1", from: null, to: "generating", elapsedMs: 2_000 },
      { requestId: "req-wait", taskId: "t1", from: "generating", to: "success", elapsedMs: 4_000 },
    ]);
  });

  it("reads at once with pollImmediately", async () => {
    kit = makeKit();
    reply(kit, SUCCESS);
    await kit.client.waitForTask("t1", { ...BASE, pollImmediately: true });
    expect(kit.sleeps).toEqual([]);
  });

  it("throws TaskFailedError with KIE's failCode and failMsg", async () => {
    kit = makeKit();
    reply(kit, state("generating"), state("fail", { failCode: "400", failMsg: "Content policy violation" }));
    const updates: string[] = [];
    const error = await captureError(
      kit.client.waitForTask("t1", { ...BASE, onUpdate: (r) => updates.push(r.state) }),
    );
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error).toMatchObject({
      taskId: "t1",
      failCode: "400",
      failMsg: "Content policy violation",
      requestId: "req-wait",
    });
    expect(updates).toEqual(["generating", "fail"]);
  });

  it("throws TimeoutError with the taskId when the budget ends, without overrunning it", async () => {
    kit = makeKit({ random: () => 1 });
    kit.api.intercept(RECORD).reply(200, state("generating"), JSON_HEADERS).persist();
    const error = await captureError(kit.client.waitForTask("t1", { ...BASE, budgetMs: 30_000 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ scope: "poll_budget", taskId: "t1", timeoutMs: 30_000 });
    const slept = kit.sleeps.reduce((a, b) => a + b, 0);
    expect(slept).toBe(30_000);
    expect(kit.clock.now - START).toBe(30_000);
    // 2s, then 2, 4, 8, 10, and the 4s that remain: a read after each wait, including at the deadline
    expect(kit.sleeps).toEqual([2_000, 2_000, 4_000, 8_000, 10_000, 4_000]);
    expect(kit.calls()).toHaveLength(6);
  });

  it("with a zero budget reads once and times out", async () => {
    kit = makeKit();
    reply(kit, state("waiting"));
    const error = await captureError(kit.client.waitForTask("t1", { ...BASE, budgetMs: 0 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(kit.calls()).toHaveLength(1);
  });

  it("keeps polling through transient read errors", async () => {
    kit = makeKit();
    kit.api.intercept(RECORD).reply(500, { code: 500, msg: "oops" }, JSON_HEADERS);
    kit.api.intercept(RECORD).reply(200, "<html>", {});
    reply(kit, SUCCESS);
    expect((await kit.client.waitForTask("t1", BASE)).state).toBe("success");
    // one try per read: the wait loop is the retry
    expect(kit.calls()).toHaveLength(3);
  });

  it("honours Retry-After of a rate-limited read", async () => {
    kit = makeKit({ random: () => 0 });
    kit.api.intercept(RECORD).reply(429, { code: 429 }, { headers: { "retry-after": "7" } });
    reply(kit, SUCCESS);
    await kit.client.waitForTask("t1", BASE);
    expect(kit.sleeps).toEqual([2_000, 7_000]);
  });

  it("stops on an error polling cannot fix", async () => {
    kit = makeKit();
    kit.api.intercept(RECORD).reply(401, { code: 401, msg: "bad key" }, JSON_HEADERS);
    expect(await captureError(kit.client.waitForTask("t1", BASE))).toBeInstanceOf(AuthError);
    expect(kit.calls()).toHaveLength(1);
  });

  it("treats an unknown state as still running", async () => {
    kit = makeKit();
    reply(kit, state("post-processing"), SUCCESS);
    const updates: string[] = [];
    await kit.client.waitForTask("t1", { ...BASE, onUpdate: (r) => updates.push(r.rawState ?? r.state) });
    expect(updates).toEqual(["post-processing", "success"]);
  });

  it("aborts promptly during a wait, with no further reads", async () => {
    const controller = new AbortController();
    let sleepsSeen = 0;
    kit = makeKit({
      onSleep: () => {
        sleepsSeen++;
        if (sleepsSeen === 2) controller.abort();
      },
    });
    kit.api.intercept(RECORD).reply(200, state("generating"), JSON_HEADERS).persist();
    const error = await captureError(kit.client.waitForTask("t1", { ...BASE, signal: controller.signal }));
    expect(error).toMatchObject({ name: "AbortError" });
    expect(kit.calls()).toHaveLength(1);
  });

  it("an already aborted signal reads nothing", async () => {
    kit = makeKit();
    const controller = new AbortController();
    controller.abort();
    await captureError(
      kit.client.waitForTask("t1", { ...BASE, signal: controller.signal, pollImmediately: true }),
    );
    expect(kit.calls()).toHaveLength(0);
  });

  it("survives an onUpdate that throws", async () => {
    kit = makeKit();
    reply(kit, state("generating"), SUCCESS);
    const record = await kit.client.waitForTask("t1", {
      ...BASE,
      onUpdate: () => {
        throw new Error("observer bug");
      },
    });
    expect(record.state).toBe("success");
  });
});
