import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningKieSim } from "@/sim/server";
import { CONTROL_KEY, call, createTask, KEY, pollUntilFinal, startTestSim, textTask } from "./simTestKit";

let sim: RunningKieSim;

beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(() => sim.close());

/** The control API takes the simulator's own control key, not a KIE key (black-box tests of the app use it). */
const control = (path: string, init: Parameters<typeof call>[2] = {}) =>
  call(sim, path, { key: CONTROL_KEY, ...init });

describe("control API under /__sim/", () => {
  it("reports health", async () => {
    expect((await control("/__sim/health")).json).toMatchObject({ ok: true, url: sim.url });
  });

  it("counts calls per endpoint in GET /__sim/stats and zeroes them on POST /__sim/reset", async () => {
    await control("/__sim/reset", { method: "POST" });
    await call(sim, "/api/v1/chat/credit");
    await call(sim, "/api/v1/chat/credit");
    const taskId = await createTask(sim, textTask("counted"));
    await pollUntilFinal(sim, taskId);
    await call(sim, "/api/file-base64-upload", { body: { base64Data: "aGVsbG8=", uploadPath: "c" } });
    await call(sim, "/api/v1/chat/credit", { key: null });

    const stats = (await control("/__sim/stats")).json;
    expect(stats.calls.credit).toBe(3);
    expect(stats.calls.createTask).toBe(1);
    expect(stats.calls.recordInfo).toBeGreaterThanOrEqual(1);
    expect(stats.calls.fileBase64Upload).toBe(1);
    expect(stats).toMatchObject({ uploads: 1, tasksCreated: 1, tasksSucceeded: 1, authFailures: 1 });
    expect(sim.stats()).toEqual(stats);

    const reset = (await control("/__sim/reset", { method: "POST" })).json;
    expect(reset.calls.credit).toBe(0);
    expect(reset.tasksCreated).toBe(0);
  });

  it("sets, shows and clears fault rules (text/plain body)", async () => {
    const set = await control("/__sim/faults", {
      method: "PUT",
      body: "createTask:http=429;retry-after=5;times=1, recordInfo:latency=5",
      headers: { "content-type": "text/plain" },
    });
    expect(set.status).toBe(200);
    expect(set.json.rules.map((r: { rule: string }) => r.rule)).toEqual([
      "createTask:http=429;retry-after=5;times=1",
      "recordInfo:latency=5",
    ]);
    const limited = await call(sim, "/api/v1/jobs/createTask", { body: textTask("limited") });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("5");
    expect((await control("/__sim/faults")).json.rules[0].remaining).toBe(0);

    expect((await control("/__sim/faults", { method: "DELETE" })).json).toEqual({ rules: [] });
    expect(sim.faults()).toEqual([]);
  });

  it("accepts JSON rules, as a string or as objects", async () => {
    const answer = await control("/__sim/faults", {
      method: "PUT",
      body: { rules: [{ endpoint: "credit", fault: "body-code=433", times: 1 }, "recordInfo:http=500;p=0"] },
    });
    expect(answer.json.rules).toEqual([
      { rule: "credit:body-code=433;times=1", endpoint: "credit", remaining: 1, probability: 1 },
      { rule: "recordInfo:http=500;p=0", endpoint: "recordInfo", remaining: null, probability: 0 },
    ]);
    expect((await call(sim, "/api/v1/chat/credit")).json.code).toBe(433);
    expect((await call(sim, "/api/v1/chat/credit")).json.code).toBe(200);
    await control("/__sim/faults", { method: "DELETE" });
  });

  it("refuses malformed rules with 400 and the parser's message", async () => {
    const answer = await control("/__sim/faults", {
      method: "PUT",
      body: "createTask:http=429;tims=2",
      headers: { "content-type": "text/plain" },
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toContain("unknown fault 'tims'");
  });

  it("lists tasks and shows one task, including what recordInfo hides", async () => {
    const hidden = await startTestSim({ recordDelayMs: 60_000 });
    try {
      const taskId = await createTask(
        hidden,
        textTask("not yet visible", {}, { callBackUrl: "http://127.0.0.1:9/cb" }),
      );
      expect((await call(hidden, `/api/v1/jobs/recordInfo?taskId=${taskId}`)).json.msg).toBe(
        "recordInfo is null",
      );
      const listed = (await call(hidden, "/__sim/tasks", { key: CONTROL_KEY })).json.tasks;
      expect(listed.map((t: { taskId: string }) => t.taskId)).toEqual([taskId]);
      const one = (await call(hidden, `/__sim/tasks/${taskId}`, { key: CONTROL_KEY })).json;
      expect(one).toMatchObject({ taskId, prompt: "not yet visible", callBackUrl: "http://127.0.0.1:9/cb" });
      expect(one.recordVisibleAt).toBeGreaterThan(Date.now());
      expect((await call(hidden, "/__sim/tasks/nope", { key: CONTROL_KEY })).status).toBe(404);
    } finally {
      await hidden.close();
    }
  });

  it("reads and sets the simulated account's credits", async () => {
    expect((await control("/__sim/credits", { method: "PUT", body: { credits: 2 } })).json).toEqual({
      credits: 2,
    });
    expect((await call(sim, "/api/v1/chat/credit")).json.data).toBe(2);
    expect((await call(sim, "/api/v1/jobs/createTask", { body: textTask("broke") })).json.code).toBe(402);
    expect((await control("/__sim/credits", { method: "PUT", body: { credits: -1 } })).status).toBe(400);
    await control("/__sim/credits", { method: "PUT", body: { credits: 1000 } });
    expect(sim.credits()).toBe(1000);
  });

  it("answers 404 for an unknown control route", async () => {
    expect((await control("/__sim/nothing")).status).toBe(404);
  });

  it("is absent when controlApi is false, or when no control key is given", async () => {
    for (const options of [{ controlApi: false }, { controlKey: undefined }]) {
      const locked = await startTestSim(options);
      try {
        const answer = await call(locked, "/__sim/stats", { key: CONTROL_KEY });
        expect(answer.status).toBe(404);
        expect(answer.json.code).toBe(404);
      } finally {
        await locked.close();
      }
    }
  });

  it("refuses a request without the control key, or with a KIE key, with 401", async () => {
    for (const key of [null, KEY, `${CONTROL_KEY}x`]) {
      expect((await call(sim, "/__sim/tasks", { key })).status).toBe(401);
    }
    expect(
      (await call(sim, "/__sim/credits", { method: "PUT", key: KEY, body: { credits: 0 } })).status,
    ).toBe(401);
    expect(sim.credits()).toBeGreaterThan(0);
  });
});
