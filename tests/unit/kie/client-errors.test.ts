import { afterEach, describe, expect, it } from "vitest";
import {
  AccountError,
  AuthError,
  type KieError,
  MalformedResponseError,
  NetworkError,
  NotFoundError,
  RateLimitError,
  ServiceError,
  TaskFailedError,
  ValidationError,
} from "@/lib/kie/errors";
import { API_KEY, captureError, expectNoApiKey, JSON_HEADERS, type Kit, makeKit, ok } from "./kieTestKit";

const CREATE = { path: "/api/v1/jobs/createTask", method: "POST" } as const;
const REQUEST = { prompt: "a banana astronaut" };
const CALL = { requestId: "req-errors" };
const RECORD = { path: "/api/v1/jobs/recordInfo", method: "GET", query: { taskId: "t1" } } as const;

let kit: Kit;
afterEach(async () => {
  await kit.agent.close();
});

// kie-api.md "Envelope": every documented code, plus other 4xx/5xx.
const TABLE: [number, new (...args: never[]) => KieError][] = [
  [400, ValidationError],
  [401, AuthError],
  [402, AccountError],
  [403, AuthError],
  [404, NotFoundError],
  [408, ServiceError],
  [422, ValidationError],
  [429, RateLimitError],
  [433, AccountError],
  [455, ServiceError],
  [500, ServiceError],
  [501, TaskFailedError],
  [502, ServiceError],
  [505, ServiceError],
  [409, ValidationError],
];

describe("KIE error codes → error classes", () => {
  it.each(TABLE)("HTTP status %i → %o", async (code, cls) => {
    kit = makeKit({ maxRetries: 0 });
    kit.api.intercept(CREATE).reply(code, { code, msg: `kie says ${code}`, data: null }, JSON_HEADERS);
    const error = await captureError(kit.client.generateImage(REQUEST, CALL));
    expect(error).toBeInstanceOf(cls);
    expect(error).toMatchObject({ code, httpStatus: code, endpoint: "createTask", requestId: "req-errors" });
    expect((error as KieError).kieMessage).toBe(`kie says ${code}`);
  });

  it.each(TABLE)("HTTP 200 with body code %i → %o", async (code, cls) => {
    kit = makeKit({ maxRetries: 0 });
    kit.api.intercept(CREATE).reply(200, { code, msg: `kie says ${code}`, data: null }, JSON_HEADERS);
    const error = await captureError(kit.client.generateImage(REQUEST, CALL));
    expect(error).toBeInstanceOf(cls);
    expect(error).toMatchObject({ code, httpStatus: 200, endpoint: "createTask" });
  });

  it("checks the HTTP status before the body code", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.api.intercept(CREATE).reply(401, ok({ taskId: "t" }), JSON_HEADERS);
    expect(await captureError(kit.client.generateImage(REQUEST, CALL))).toBeInstanceOf(AuthError);
  });

  it("reads KIE's `message` where `msg` is missing", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.api.intercept(CREATE).reply(200, { code: 422, message: "image_size is invalid" }, JSON_HEADERS);
    const error = (await captureError(kit.client.generateImage(REQUEST, CALL))) as KieError;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.kieMessage).toBe("image_size is invalid");
    expect(error.message).toContain("image_size is invalid");
  });

  it("an HTML page on HTTP 200 is a MalformedResponseError (a ServiceError)", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.api.intercept(CREATE).reply(200, "<html><body>Bad gateway</body></html>", {
      headers: { "content-type": "text/html" },
    });
    const error = await captureError(kit.client.generateImage(REQUEST, CALL));
    expect(error).toBeInstanceOf(MalformedResponseError);
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as KieError).message).not.toContain("<html>");
  });

  it("an HTML page on HTTP 502 is a retryable ServiceError", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.api.intercept(RECORD).reply(502, "<html>proxy error</html>");
    const error = await captureError(kit.client.getTaskStatus("t1", CALL));
    expect(error).toBeInstanceOf(ServiceError);
    expect(error).toMatchObject({ httpStatus: 502, retryable: true, kieMessage: undefined });
  });

  it("a success envelope without a task id is malformed, not a success", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.api.intercept(CREATE).reply(200, ok({}), JSON_HEADERS);
    expect(await captureError(kit.client.generateImage(REQUEST, CALL))).toBeInstanceOf(
      MalformedResponseError,
    );
  });

  it("JSON that is not an envelope is malformed", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.api.intercept(RECORD).reply(200, { balance: 5 }, JSON_HEADERS);
    expect(await captureError(kit.client.getTaskStatus("t1", CALL))).toBeInstanceOf(MalformedResponseError);
  });

  it("a 501 on createTask carries KIE's failCode/failMsg", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.api
      .intercept(CREATE)
      .reply(
        200,
        { code: 501, msg: "generation failed", data: { failCode: "400", failMsg: "content policy" } },
        JSON_HEADERS,
      );
    const error = await captureError(kit.client.generateImage(REQUEST, CALL));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error).toMatchObject({ failCode: "400", failMsg: "content policy" });
  });

  it("a preflight validation error never calls KIE", async () => {
    kit = makeKit({ maxRetries: 0 });
    const error = await captureError(
      kit.client.generateImage({ prompt: "p", model: "google/nano-banana-edit" }, CALL),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as KieError).code).toBeUndefined();
    expect(kit.calls()).toHaveLength(0);
  });
});

describe("the API key never leaks", () => {
  it("not when KIE echoes the key or the Authorization header in its message", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.api
      .intercept(CREATE)
      .reply(
        401,
        { code: 401, msg: `Invalid key ${API_KEY} (Authorization: Bearer ${API_KEY})` },
        JSON_HEADERS,
      );
    const error = (await captureError(kit.client.generateImage(REQUEST, CALL))) as KieError;
    expect(error).toBeInstanceOf(AuthError);
    expect(error.kieMessage).toContain("[redacted]");
    expectNoApiKey(error);
  });

  it("not in an HTML error page", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.api.intercept(RECORD).reply(200, `<html>token=${API_KEY}</html>`);
    expectNoApiKey(await captureError(kit.client.getTaskStatus("t1", CALL)));
  });

  it("not in a network error's cause", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.api
      .intercept(RECORD)
      .replyWithError(Object.assign(new Error(`socket hang up; key=${API_KEY}`), { code: "ECONNRESET" }));
    const error = await captureError(kit.client.getTaskStatus("t1", CALL));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ sent: true, networkCode: "ECONNRESET" });
    expectNoApiKey(error);
  });

  it("not in a failed task's failMsg, nor in a schema-mismatch message", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.api
      .intercept({ path: "/api/v1/jobs/recordInfo", query: { taskId: "t1" } })
      .reply(
        200,
        ok({ taskId: "t1", state: "fail", failCode: "500", failMsg: `upstream rejected ${API_KEY}` }),
        JSON_HEADERS,
      );
    const record = await kit.client.getTaskStatus("t1", CALL);
    expect(record.state).toBe("fail");
    expectNoApiKey(record);
  });

  it("not in any log line", async () => {
    kit = makeKit({ maxRetries: 1 });
    kit.api.intercept(RECORD).reply(429, { code: 429, msg: `slow down ${API_KEY}` }, JSON_HEADERS);
    kit.api.intercept(RECORD).reply(200, ok({ taskId: "t1", state: "generating" }), JSON_HEADERS);
    await kit.client.getTaskStatus("t1", CALL);
    kit.api.intercept(CREATE).reply(200, ok({ taskId: "t-9" }), JSON_HEADERS);
    await kit.client.generateImage(REQUEST, CALL);
    expect(kit.logs.length).toBeGreaterThan(0);
    expect(JSON.stringify(kit.logs)).not.toContain(API_KEY);
  });

  it("not through the client object itself", () => {
    kit = makeKit();
    expect(JSON.stringify(kit.client)).not.toContain(API_KEY);
    expect(Object.values(kit.client)).not.toContain(API_KEY);
  });
});
