import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunningKieSim } from "@/sim/server";
import { call, createTask, KEY, pollUntilFinal, pollUntilState, startTestSim, textTask } from "./simTestKit";

let sim: RunningKieSim;

beforeAll(async () => {
  sim = await startTestSim();
});
afterEach(() => {
  sim.setFaults([]);
});
afterAll(() => sim.close());

const fault = (value: string) => ({ "x-kie-sim-fault": value });

describe("X-Kie-Sim-Fault header", () => {
  it("http=429;retry-after=2 answers HTTP 429 with Retry-After and creates no task", async () => {
    const before = sim.tasks().length;
    const answer = await call(sim, "/api/v1/jobs/createTask", {
      body: textTask("p"),
      headers: fault("http=429;retry-after=2"),
    });
    expect(answer.status).toBe(429);
    expect(answer.headers.get("retry-after")).toBe("2");
    expect(answer.json).toMatchObject({ code: 429, data: null });
    expect(sim.tasks().length).toBe(before);
  });

  it.each([429, 402, 433, 455, 500])(
    "body-code=%i answers HTTP 200 with that code in the body",
    async (code) => {
      const answer = await call(sim, "/api/v1/jobs/createTask", {
        body: textTask("p"),
        headers: fault(`body-code=${code}`),
      });
      expect(answer.status).toBe(200);
      expect(answer.json).toMatchObject({ code, msg: expect.any(String), data: null });
    },
  );

  it.each([500, 455, 503])(
    "http=%i answers that HTTP status with the code in the envelope",
    async (status) => {
      const answer = await call(sim, "/api/v1/jobs/recordInfo?taskId=x", {
        headers: fault(`http=${status}`),
      });
      expect(answer.status).toBe(status);
      expect(answer.json.code).toBe(status);
    },
  );

  it("code=401 answers like a rejected key even with a valid one", async () => {
    const answer = await call(sim, "/api/v1/chat/credit", { headers: fault("code=401") });
    expect(answer.status).toBe(401);
    expect(answer.json.code).toBe(401);
  });

  it("keeps upload envelopes' success flag on injected errors", async () => {
    const answer = await call(sim, "/api/file-base64-upload", {
      body: { base64Data: "aGk=", uploadPath: "a" },
      headers: fault("http=500"),
    });
    expect(answer.json).toMatchObject({ success: false, code: 500 });
  });

  it("malformed answers HTTP 200 with truncated JSON", async () => {
    const answer = await call(sim, "/api/v1/chat/credit", { headers: fault("malformed") });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toContain("application/json");
    expect(answer.text.length).toBeGreaterThan(0);
    expect(() => JSON.parse(answer.text)).toThrow();
  });

  it("malformed=html answers a proxy's 502 HTML page", async () => {
    const answer = await call(sim, "/api/v1/chat/credit", { headers: fault("malformed=html") });
    expect(answer.status).toBe(502);
    expect(answer.headers.get("content-type")).toContain("text/html");
    expect(answer.text).toContain("<html>");
  });

  it("hang never answers; the client's abort ends the wait", async () => {
    const controller = new AbortController();
    const pending = fetch(`${sim.url}/api/v1/chat/credit`, {
      headers: { authorization: `Bearer ${KEY}`, ...fault("hang") },
      signal: controller.signal,
    });
    const outcome = Promise.race([
      pending.then(() => "answered"),
      new Promise((r) => setTimeout(r, 200, "waiting")),
    ]);
    expect(await outcome).toBe("waiting");
    controller.abort();
    await expect(pending).rejects.toThrow(/abort/i);
  });

  it("reset destroys the connection without an answer", async () => {
    await expect(call(sim, "/api/v1/chat/credit", { headers: fault("reset") })).rejects.toThrow(
      /fetch failed/,
    );
  });

  it("reset;after creates the task but loses the answer (an ambiguous createTask)", async () => {
    const before = sim.stats().tasksCreated;
    await expect(
      call(sim, "/api/v1/jobs/createTask", { body: textTask("ambiguous"), headers: fault("reset;after") }),
    ).rejects.toThrow(/fetch failed/);
    expect(sim.stats().tasksCreated).toBe(before + 1);
    const created = sim.tasks().find((t) => t.prompt === "ambiguous");
    expect(created).toBeDefined();
  });

  it("latency=<ms> answers normally, no sooner than the latency", async () => {
    const started = Date.now();
    const answer = await call(sim, "/api/v1/chat/credit", { headers: fault("latency=150") });
    expect(answer.json.code).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it("refuses a malformed header with HTTP 400 naming the problem", async () => {
    for (const [value, problem] of [
      ["htp=429", "unknown fault 'htp'"],
      ["http=abc", "'http' needs an integer"],
      ["http=429;hang", "conflicts"],
      ["retry-after=3", "retry-after"],
      ["times=2;http=500", "global fault rules"],
    ]) {
      const answer = await call(sim, "/api/v1/chat/credit", { headers: fault(value!) });
      expect(answer.status).toBe(400);
      expect(answer.json.msg).toContain("X-Kie-Sim-Fault");
      expect(answer.json.msg).toContain(problem);
    }
  });

  it("counts injected faults in stats", async () => {
    const before = sim.stats().faultsInjected;
    await call(sim, "/api/v1/chat/credit", { headers: fault("body-code=455") });
    expect(sim.stats().faultsInjected).toBe(before + 1);
  });
});

describe("slow uploads (slow=<bytes per second>)", () => {
  it("still stores the complete file when the client waits", async () => {
    const bytes = Buffer.alloc(6000, 7);
    const started = Date.now();
    const answer = await call(sim, "/api/file-base64-upload", {
      body: { base64Data: bytes.toString("base64"), uploadPath: "slow" },
      headers: fault("slow=20000"),
    });
    expect(answer.json.code).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    const served = Buffer.from(await (await fetch(answer.json.data.downloadUrl)).arrayBuffer());
    expect(served.equals(bytes)).toBe(true);
  });

  it("makes a client with a short timeout give up", async () => {
    const body = JSON.stringify({
      base64Data: Buffer.alloc(30_000, 1).toString("base64"),
      uploadPath: "slow",
    });
    await expect(
      fetch(`${sim.url}/api/file-base64-upload`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${KEY}`,
          "content-type": "application/json",
          ...fault("slow=2000"),
        },
        body,
        signal: AbortSignal.timeout(300),
      }),
    ).rejects.toThrow(/timeout|abort/i);
  });
});

describe("global fault rules", () => {
  it("'next 2 createTask calls get 429', then createTask works again", async () => {
    sim.setFaults("createTask:http=429;retry-after=1;times=2");
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      codes.push((await call(sim, "/api/v1/jobs/createTask", { body: textTask(`r${i}`) })).json.code);
    }
    expect(codes).toEqual([429, 429, 200]);
    expect(sim.faults()).toEqual([
      {
        rule: "createTask:http=429;retry-after=1;times=2",
        endpoint: "createTask",
        remaining: 0,
        probability: 1,
      },
    ]);
  });

  it("applies to the named endpoint only, and 'upload' covers all three upload endpoints", async () => {
    sim.setFaults([{ endpoint: "upload", fault: "body-code=500" }]);
    expect((await call(sim, "/api/v1/chat/credit")).json.code).toBe(200);
    const upload = await call(sim, "/api/file-url-upload", {
      body: { fileUrl: "http://x.test/a.png", uploadPath: "a" },
    });
    expect(upload.json).toMatchObject({ success: false, code: 500 });
  });

  it("honours probabilities with the injected random source", async () => {
    const values = [0.9, 0.1];
    const seeded = await startTestSim({
      random: () => values.shift() ?? 0.5,
      faults: "credit:body-code=455;p=0.5",
    });
    try {
      expect((await call(seeded, "/api/v1/chat/credit")).json.code).toBe(200);
      expect((await call(seeded, "/api/v1/chat/credit")).json.code).toBe(455);
    } finally {
      await seeded.close();
    }
  });

  it("lets a header outcome win over a rule without using the rule up", async () => {
    sim.setFaults("credit:body-code=500;times=1");
    expect((await call(sim, "/api/v1/chat/credit", { headers: fault("body-code=433") })).json.code).toBe(433);
    expect((await call(sim, "/api/v1/chat/credit")).json.code).toBe(500);
    expect((await call(sim, "/api/v1/chat/credit")).json.code).toBe(200);
  });

  it("adds latency to every call with '*:latency=<ms>'", async () => {
    sim.setFaults("*:latency=120");
    const started = Date.now();
    expect((await call(sim, "/api/v1/chat/credit")).json.code).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(120);
  });

  it("throws a clear error for a malformed rule and keeps the previous rules", () => {
    sim.setFaults("credit:http=500");
    expect(() => sim.setFaults("createTsk:http=429")).toThrow(/unknown endpoint 'createTsk'/);
    expect(sim.faults().map((f) => f.rule)).toEqual(["credit:http=500"]);
  });

  it("takes rules from options.faults at start-up", async () => {
    const faulty = await startTestSim({ faults: "createTask:body-code=402;times=1" });
    try {
      expect((await call(faulty, "/api/v1/jobs/createTask", { body: textTask("x") })).json.code).toBe(402);
    } finally {
      await faulty.close();
    }
  });

  it("refuses to start with a malformed options.faults", async () => {
    await expect(startTestSim({ faults: "createTask:http" })).rejects.toThrow(/'http' needs an integer/);
  });
});

describe("prompt directives", () => {
  it("[sim:fail] ends the task as fail with failCode and failMsg", async () => {
    const { final } = await pollUntilFinal(sim, await createTask(sim, textTask("a cat [sim:fail]")));
    expect(final).toMatchObject({ state: "fail", failCode: "500", resultJson: "" });
    expect(final.failMsg).toContain("[sim:fail]");
    expect(final.completeTime).toBeGreaterThan(0);
  });

  it("[sim:fail=<msg>] uses the given failMsg", async () => {
    const { final } = await pollUntilFinal(
      sim,
      await createTask(sim, textTask("[sim:fail=Your prompt was flagged by the content policy] a cat")),
    );
    expect(final.failMsg).toBe("Your prompt was flagged by the content policy");
  });

  it("[sim:never] keeps the task generating", async () => {
    const taskId = await createTask(sim, textTask("endless [sim:never]"));
    await pollUntilState(sim, taskId, "generating");
    // Ten more steps' worth of polling: it must still be running.
    for (let i = 0; i < 20; i++) {
      const answer = await call(sim, `/api/v1/jobs/recordInfo?taskId=${taskId}`);
      expect(answer.json.data.state).toBe("generating");
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  it("[sim:delay=<ms>] slows the task down to about that long", async () => {
    const { final } = await pollUntilFinal(sim, await createTask(sim, textTask("slowly [sim:delay=400]")));
    expect(final.state).toBe("success");
    expect(final.costTime).toBeGreaterThanOrEqual(400);
  });

  it("draws the same image with or without directives", async () => {
    const plain = await pollUntilFinal(sim, await createTask(sim, textTask("same picture")));
    const directed = await pollUntilFinal(
      sim,
      await createTask(sim, textTask("same picture [sim:delay=80]")),
    );
    const bytes = async (r: { resultJson: string }) =>
      Buffer.from(await (await fetch(JSON.parse(r.resultJson).resultUrls[0])).arrayBuffer());
    expect((await bytes(plain.final)).equals(await bytes(directed.final))).toBe(true);
  });

  it.each([
    ["[sim:explode]", "unknown directive 'explode'"],
    ["[sim:delay=soon]", "'delay' needs an integer"],
    ["[sim:callback=sometimes]", "callback=none|duplicate|reorder|early|late=<ms>"],
    ["[sim:fail][sim:never]", "cannot be combined"],
    ["[sim:fail", "closing ']'"],
    ["[sim:never][sim:never]", "given twice"],
  ])("refuses %s with code 422 naming the problem", async (directive, problem) => {
    const answer = await call(sim, "/api/v1/jobs/createTask", { body: textTask(`a dog ${directive}`) });
    expect(answer.json.code).toBe(422);
    expect(answer.json.msg).toContain("input.prompt");
    expect(answer.json.msg).toContain(problem);
  });
});
