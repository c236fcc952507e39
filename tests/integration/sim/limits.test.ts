/**
 * KIE's account limits in kie-sim (kie-api.md "Rate limit"): createTask per window and recordInfo
 * per window, per API key, HTTP 429 beyond (with or without Retry-After), and the control route
 * that tells what KIE accepted in any window span.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { RunningKieSim } from "@/sim/server";
import { CONTROL_KEY, call, createTask, KEY, startTestSim, textTask } from "./simTestKit";

const OTHER_KEY = "sim-test-other-key";
const HOUR = 3_600_000;

let sim: RunningKieSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const create = (prompt: string, key = KEY) =>
  call(sim!, "/api/v1/jobs/createTask", { body: textTask(prompt), key });
const read = (taskId: string, key = KEY) => call(sim!, `/api/v1/jobs/recordInfo?taskId=${taskId}`, { key });

describe("kie-sim: KIE's limits, per account", () => {
  it("refuses a createTask beyond the limit with HTTP 429 and Retry-After; another key has its own budget", async () => {
    sim = await startTestSim({ createTaskRateLimit: { limit: 3, windowMs: HOUR } });
    for (const prompt of ["a", "b", "c"]) expect((await create(prompt)).json.code).toBe(200);

    const refused = await create("d");
    expect(refused.status).toBe(429);
    expect(refused.json.code).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(sim.tasks()).toHaveLength(3);

    expect((await create("e", OTHER_KEY)).json.code).toBe(200);
    expect(sim.tasks()).toHaveLength(4);
  });

  it("refuses a status read beyond the read limit with HTTP 429; another key has its own budget", async () => {
    sim = await startTestSim({ recordInfoRateLimit: { limit: 3, windowMs: HOUR } });
    const taskId = await createTask(sim, textTask("read me"));
    for (let i = 0; i < 3; i++) expect((await read(taskId)).status).toBe(200);

    const refused = await read(taskId);
    expect(refused.status).toBe(429);
    expect(refused.json.code).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);

    expect((await read(taskId, OTHER_KEY)).status).toBe(200);
  });

  it("can refuse without Retry-After, as KIE may", async () => {
    sim = await startTestSim({
      createTaskRateLimit: { limit: 1, windowMs: HOUR, retryAfter: false },
      recordInfoRateLimit: { limit: 1, windowMs: HOUR, retryAfter: false },
    });
    const taskId = await createTask(sim, textTask("one"));
    const refusedCreate = await create("two");
    expect(refusedCreate.status).toBe(429);
    expect(refusedCreate.headers.get("retry-after")).toBeNull();

    await read(taskId);
    const refusedRead = await read(taskId);
    expect(refusedRead.status).toBe(429);
    expect(refusedRead.headers.get("retry-after")).toBeNull();
  });

  it("accepts again once the window has moved on", async () => {
    sim = await startTestSim({ createTaskRateLimit: { limit: 1, windowMs: 200 } });
    expect((await create("one")).json.code).toBe(200);
    expect((await create("two")).status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect((await create("three")).json.code).toBe(200);
  });
});

describe("kie-sim: what KIE accepted, at /__sim/limits", () => {
  it("reports the most accepted calls in any window span, refusals apart", async () => {
    sim = await startTestSim({
      createTaskRateLimit: { limit: 2, windowMs: HOUR },
      recordInfoRateLimit: { limit: 4, windowMs: HOUR },
    });
    const taskId = await createTask(sim, textTask("one"));
    await create("two");
    await create("three"); // refused
    await create("four", OTHER_KEY);
    for (let i = 0; i < 6; i++) await read(taskId); // 4 accepted, 2 refused

    const limits = (await call(sim, "/__sim/limits", { key: CONTROL_KEY })).json;
    expect(limits.createTask).toMatchObject({ limit: 2, windowMs: HOUR, accepted: 3, refused: 1 });
    // The other key's create counts for its own account, not this one's peak.
    expect(limits.createTask.maxAcceptedInWindow).toBe(2);
    expect(limits.recordInfo).toMatchObject({
      limit: 4,
      windowMs: HOUR,
      accepted: 4,
      refused: 2,
      maxAcceptedInWindow: 4,
    });
    expect(sim.limits()).toEqual(limits);
    expect(JSON.stringify(limits)).not.toContain(KEY);
  });

  it("counts per KIE's windows (10 s, 1 s) when no limit is on, and resets with the stats", async () => {
    sim = await startTestSim();
    const taskId = await createTask(sim, textTask("one"));
    for (let i = 0; i < 4; i++) await create(`more ${i}`);
    await read(taskId);

    const limits = sim.limits();
    expect(limits.createTask).toMatchObject({ limit: null, windowMs: 10_000, accepted: 5, refused: 0 });
    expect(limits.createTask.maxAcceptedInWindow).toBe(5);
    expect(limits.recordInfo).toMatchObject({ limit: null, windowMs: 1_000, accepted: 1 });

    await call(sim, "/__sim/reset", { method: "POST", key: CONTROL_KEY });
    expect(sim.limits().createTask).toMatchObject({ accepted: 0, refused: 0, maxAcceptedInWindow: 0 });
  });

  it("does not count a createTask the fault rules refused as accepted", async () => {
    sim = await startTestSim({ faults: "createTask:http=429;times=1" });
    expect((await create("faulted")).status).toBe(429);
    expect(sim.limits().createTask).toMatchObject({ accepted: 0, maxAcceptedInWindow: 0 });
  });
});
