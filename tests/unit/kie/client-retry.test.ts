import { afterEach, describe, expect, it } from "vitest";
import {
  isAmbiguousCreateFailure,
  MalformedResponseError,
  NetworkError,
  RateLimitError,
  ServiceError,
  TimeoutError,
} from "@/lib/kie/errors";
import {
  captureError,
  closedPort,
  JSON_HEADERS,
  type Kit,
  makeKit,
  ok,
  START,
  startServer,
  type TestServer,
} from "./kieTestKit";

const CREATE = { path: "/api/v1/jobs/createTask", method: "POST" } as const;
const RECORD = { path: "/api/v1/jobs/recordInfo", method: "GET", query: { taskId: "t1" } } as const;
const DONE = ok({ taskId: "t1", state: "success" });
const REQUEST = { prompt: "a banana astronaut" };
const CALL = { requestId: "req-retry" };
const refused = () => Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:443"), { code: "ECONNREFUSED" });

let kit: Kit | undefined;
let server: TestServer | undefined;
afterEach(async () => {
  await kit?.close();
  await server?.close();
  kit = undefined;
  server = undefined;
});

describe("retries of idempotent calls", () => {
  it("retries 5xx up to maxRetries, with full-jitter delays inside the backoff window", async () => {
    const draws = [0.99, 0.01, 0.5];
    kit = makeKit({
      maxRetries: 3,
      retryBaseDelayMs: 100,
      retryMaxDelayMs: 300,
      random: () => draws.shift() ?? 1,
    });
    kit.api.intercept(RECORD).reply(500, { code: 500, msg: "boom" }, JSON_HEADERS).times(4);
    const error = await captureError(kit.client.getTaskStatus("t1", CALL));
    expect(error).toBeInstanceOf(ServiceError);
    expect(kit.calls()).toHaveLength(4);
    expect(kit.sleeps).toEqual([99, 2, 150]);
    // windows: 100, 200, min(300, 400)
    kit.sleeps.forEach((ms, attempt) => {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual(Math.min(300, 100 * 2 ** attempt));
    });
    expect(kit.events.filter((e) => e.type === "retry").map((e) => e.attempt)).toEqual([1, 2, 3]);
  });

  it("succeeds after transient failures of every retryable kind", async () => {
    kit = makeKit({ maxRetries: 4 });
    kit.api.intercept(RECORD).reply(200, { code: 455, msg: "maintenance" }, JSON_HEADERS);
    kit.api.intercept(RECORD).reply(503, "<html>unavailable</html>");
    kit.api.intercept(RECORD).reply(200, "not json");
    kit.api.intercept(RECORD).replyWithError(Object.assign(new Error("reset"), { code: "ECONNRESET" }));
    kit.api.intercept(RECORD).reply(200, DONE, JSON_HEADERS);
    expect((await kit.client.getTaskStatus("t1", CALL)).state).toBe("success");
    expect(kit.calls()).toHaveLength(5);
    expect(kit.events.filter((e) => e.type === "retry").map((e) => e.type === "retry" && e.reason)).toEqual([
      "service 455",
      "service 503",
      "malformed_response",
      "network",
    ]);
  });

  it("logs each retry with its delay, reason and the elapsed time", async () => {
    kit = makeKit({ random: () => 1, retryBaseDelayMs: 100 });
    kit.api.intercept(RECORD).reply(503, "busy").times(2);
    kit.api.intercept(RECORD).reply(200, DONE, JSON_HEADERS);
    await kit.client.getTaskStatus("t1", CALL);
    expect(kit.logs.filter((l) => l.msg === "kie request retry").map((l) => l.obj)).toEqual([
      {
        requestId: "req-retry",
        endpoint: "recordInfo",
        attempt: 1,
        delayMs: 100,
        reason: "service 503",
        elapsedMs: 0,
      },
      {
        requestId: "req-retry",
        endpoint: "recordInfo",
        attempt: 2,
        delayMs: 200,
        reason: "service 503",
        elapsedMs: 100,
      },
    ]);
  });

  it("does not retry errors a retry cannot fix", async () => {
    kit = makeKit({ maxRetries: 3 });
    kit.api.intercept(RECORD).reply(200, { code: 401, msg: "bad key" }, JSON_HEADERS);
    await captureError(kit.client.getTaskStatus("t1", CALL));
    expect(kit.calls()).toHaveLength(1);
    expect(kit.sleeps).toEqual([]);
  });

  it("waits at least Retry-After (seconds)", async () => {
    kit = makeKit({ random: () => 0 });
    kit.api
      .intercept(RECORD)
      .reply(429, { code: 429, msg: "slow down" }, { headers: { "retry-after": "2" } });
    kit.api.intercept(RECORD).reply(200, ok({ taskId: "t1", state: "generating" }), JSON_HEADERS);
    expect((await kit.client.getTaskStatus("t1", CALL)).state).toBe("generating");
    expect(kit.sleeps).toEqual([2000]);
  });

  it("waits at least Retry-After (HTTP-date), also when the 429 is in an HTTP 200 body", async () => {
    kit = makeKit({ random: () => 0 });
    const at = new Date(START + 5_000).toUTCString();
    kit.api.intercept(RECORD).reply(200, { code: 429, msg: "slow down" }, { headers: { "retry-after": at } });
    kit.api.intercept(RECORD).reply(200, DONE, JSON_HEADERS);
    expect((await kit.client.getTaskStatus("t1", CALL)).state).toBe("success");
    expect(kit.sleeps).toEqual([5000]);
  });

  it("uses the jittered delay when it is longer than Retry-After", async () => {
    kit = makeKit({ random: () => 1, retryBaseDelayMs: 4000, retryMaxDelayMs: 8000 });
    kit.api.intercept(RECORD).reply(429, { code: 429 }, { headers: { "retry-after": "1" } });
    kit.api.intercept(RECORD).reply(200, DONE, JSON_HEADERS);
    await kit.client.getTaskStatus("t1", CALL);
    expect(kit.sleeps).toEqual([4000]);
  });

  it("stops and throws RateLimitError carrying Retry-After when it exceeds the cap", async () => {
    kit = makeKit({ maxRetryAfterMs: 10_000 });
    kit.api
      .intercept(RECORD)
      .reply(429, { code: 429, msg: "slow down" }, { headers: { "retry-after": "60" } });
    const error = await captureError(kit.client.getTaskStatus("t1", CALL));
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfterMs).toBe(60_000);
    expect(kit.calls()).toHaveLength(1);
    expect(kit.sleeps).toEqual([]);
  });

  it("backs off on its own when a 429 has no Retry-After", async () => {
    kit = makeKit({ maxRetries: 2, random: () => 1, retryBaseDelayMs: 100, retryMaxDelayMs: 1000 });
    kit.api.intercept(RECORD).reply(429, { code: 429 }, JSON_HEADERS).times(3);
    const error = await captureError(kit.client.getTaskStatus("t1", CALL));
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfterMs).toBeUndefined();
    expect(kit.sleeps).toEqual([100, 200]);
  });

  it("reports call events with status, body code and attempt", async () => {
    kit = makeKit();
    kit.api.intercept(RECORD).reply(200, { code: 500, msg: "x" }, JSON_HEADERS);
    kit.api.intercept(RECORD).reply(200, DONE, JSON_HEADERS);
    await kit.client.getTaskStatus("t1", CALL);
    const calls = kit.events.filter((e) => e.type === "call");
    expect(calls).toMatchObject([
      { endpoint: "recordInfo", status: 200, code: 500, attempt: 0 },
      { endpoint: "recordInfo", status: 200, code: 200, attempt: 1 },
    ]);
    for (const call of calls) expect(call.type === "call" && call.durationMs).toBeGreaterThanOrEqual(0);
  });
});

describe("createTask is never retried blindly", () => {
  it.each([
    [
      "HTTP 500",
      (k: Kit) => k.api.intercept(CREATE).reply(500, { code: 500, msg: "x" }, JSON_HEADERS),
      ServiceError,
    ],
    [
      "body code 500",
      (k: Kit) => k.api.intercept(CREATE).reply(200, { code: 500, msg: "x" }, JSON_HEADERS),
      ServiceError,
    ],
    [
      "body code 455",
      (k: Kit) => k.api.intercept(CREATE).reply(200, { code: 455, msg: "x" }, JSON_HEADERS),
      ServiceError,
    ],
    [
      "a malformed answer",
      (k: Kit) => k.api.intercept(CREATE).reply(200, "<html>", {}),
      MalformedResponseError,
    ],
    [
      "a connection reset",
      (k: Kit) =>
        k.api
          .intercept(CREATE)
          .replyWithError(Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" })),
      NetworkError,
    ],
  ])("not on %s", async (_name, arrange, cls) => {
    kit = makeKit({ maxRetries: 3 });
    arrange(kit);
    const error = await captureError(kit.client.generateImage(REQUEST, CALL));
    expect(error).toBeInstanceOf(cls);
    expect(kit.calls()).toHaveLength(1);
    expect(kit.sleeps).toEqual([]);
  });

  it("retries when the connection was refused (KIE never saw the request)", async () => {
    kit = makeKit({ maxRetries: 3 });
    kit.api.intercept(CREATE).replyWithError(refused());
    kit.api.intercept(CREATE).replyWithError(refused());
    kit.api.intercept(CREATE).reply(200, ok({ taskId: "task-after-refusal" }), JSON_HEADERS);
    const result = await kit.client.generateImage(REQUEST, CALL);
    expect(result.taskId).toBe("task-after-refusal");
    expect(kit.calls()).toHaveLength(3);
    expect(kit.sleeps).toHaveLength(2);
  });

  it("not on a 429: surfaced at once as RateLimitError with its Retry-After, for the caller to retry through KIE's budget", async () => {
    kit = makeKit({ maxRetries: 3, random: () => 0 });
    kit.api
      .intercept(CREATE)
      .reply(429, { code: 429, msg: "rate limited" }, { headers: { "retry-after": "3" } });
    kit.api.intercept(CREATE).reply(200, ok({ taskId: "task-after-429" }), JSON_HEADERS);
    const error = await captureError(kit.client.generateImage(REQUEST, CALL));
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfterMs).toBe(3000);
    expect(kit.calls()).toHaveLength(1);
    expect(kit.sleeps).toEqual([]);
    expect(isAmbiguousCreateFailure(error)).toBe(false);
  });

  it("not on a 429 in an HTTP 200 body without Retry-After either", async () => {
    kit = makeKit({ maxRetries: 2 });
    kit.api.intercept(CREATE).reply(200, { code: 429, msg: "rate limited" }, JSON_HEADERS).times(3);
    const error = await captureError(kit.client.generateImage(REQUEST, CALL));
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfterMs).toBeUndefined();
    expect(kit.calls()).toHaveLength(1);
  });

  it("not on a real reset after the request was sent", async () => {
    server = await startServer((req) => req.socket.destroy());
    kit = makeKit({ server: server.url, maxRetries: 3 });
    const error = await captureError(kit.client.generateImage(REQUEST, CALL));
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).sent).toBe(true);
    expect(isAmbiguousCreateFailure(error)).toBe(true);
    expect(server.hits).toHaveLength(1);
  });

  it("not on a per-request timeout, which is a TimeoutError", async () => {
    server = await startServer(() => {
      // never answer
    });
    kit = makeKit({ server: server.url, requestTimeoutMs: 150, maxRetries: 3 });
    const error = await captureError(kit.client.generateImage(REQUEST, CALL));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({
      timeoutMs: 150,
      endpoint: "createTask",
      requestId: "req-retry",
    });
    expect(isAmbiguousCreateFailure(error)).toBe(true);
    expect(server.hits).toHaveLength(1);
  });

  it("retries against a real refused port, then reports a NetworkError that was never sent", async () => {
    kit = makeKit({ server: await closedPort(), maxRetries: 2 });
    const error = await captureError(kit.client.generateImage(REQUEST, CALL));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ sent: false, networkCode: "ECONNREFUSED", neverReachedKie: true });
    expect(isAmbiguousCreateFailure(error)).toBe(false);
    expect(kit.sleeps).toHaveLength(2);
  });
});

describe("per-request timeout and caller abort", () => {
  it("a read that times out is retried, then reported as TimeoutError", async () => {
    server = await startServer(() => {
      // never answer
    });
    kit = makeKit({ server: server.url, requestTimeoutMs: 100, maxRetries: 1 });
    const error = await captureError(kit.client.getTaskStatus("t1", CALL));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(server.hits).toHaveLength(2);
  });

  it("an already aborted signal sends nothing", async () => {
    kit = makeKit();
    const controller = new AbortController();
    controller.abort();
    const error = await captureError(
      kit.client.generateImage(REQUEST, { ...CALL, signal: controller.signal }),
    );
    expect(error).toMatchObject({ name: "AbortError" });
    expect(kit.calls()).toHaveLength(0);
  });

  it("an abort during a retry wait stops at once, with no further request", async () => {
    const controller = new AbortController();
    kit = makeKit({ maxRetries: 5, onSleep: () => controller.abort() });
    kit.api.intercept(RECORD).reply(500, { code: 500 }, JSON_HEADERS).persist();
    const error = await captureError(kit.client.getTaskStatus("t1", { ...CALL, signal: controller.signal }));
    expect(error).toMatchObject({ name: "AbortError" });
    expect(kit.calls()).toHaveLength(1);
  });

  it("an abort while a request is in flight rejects with the caller's reason, not a timeout", async () => {
    let abortNow: () => void = () => {};
    server = await startServer(() => abortNow());
    const controller = new AbortController();
    abortNow = () => controller.abort(new Error("client went away"));
    kit = makeKit({ server: server.url, maxRetries: 3 });
    const error = await captureError(kit.client.getTaskStatus("t1", { ...CALL, signal: controller.signal }));
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe("client went away");
    expect(error).not.toBeInstanceOf(TimeoutError);
    expect(server.hits).toHaveLength(1);
  });
});

describe("beforeAttempt (KIE's read budget)", () => {
  it("runs before every attempt, retries included", async () => {
    const seen: string[] = [];
    kit = makeKit({
      maxRetries: 2,
      beforeAttempt: async (endpoint) => {
        seen.push(endpoint);
      },
    });
    kit.api.intercept(RECORD).reply(500, { code: 500, msg: "boom" }, JSON_HEADERS);
    kit.api.intercept(RECORD).reply(200, DONE, JSON_HEADERS);
    expect((await kit.client.getTaskStatus("t1", CALL)).state).toBe("success");
    expect(seen).toEqual(["recordInfo", "recordInfo"]);
  });

  it("ends the call with its own error, without sending anything or retrying", async () => {
    const noToken = new Error("no read token");
    kit = makeKit({ maxRetries: 3, beforeAttempt: async () => Promise.reject(noToken) });
    expect(await captureError(kit.client.getTaskStatus("t1", CALL))).toBe(noToken);
    expect(kit.calls()).toHaveLength(0);
    expect(kit.sleeps).toEqual([]);
  });
});
