import { afterEach, describe, expect, it } from "vitest";
import { NotFoundError, TaskFailedError, ValidationError } from "@/lib/kie/errors";
import {
  API_KEY,
  captureError,
  JSON_HEADERS,
  type Kit,
  makeKit,
  ok,
  startServer,
  type TestServer,
} from "./kieTestKit";

const CALL = { requestId: "req-7d1e" };
const RECORD = (taskId: string) =>
  ({ path: "/api/v1/jobs/recordInfo", method: "GET", query: { taskId } }) as const;

let kit: Kit | undefined;
let server: TestServer | undefined;
afterEach(async () => {
  await kit?.close();
  await server?.close();
  kit = undefined;
  server = undefined;
});

describe("what every request carries", () => {
  it("sends Authorization: Bearer <key> and X-Request-Id to every endpoint", async () => {
    kit = makeKit();
    kit.api
      .intercept({ path: "/api/v1/jobs/createTask", method: "POST" })
      .reply(200, ok({ taskId: "t" }), JSON_HEADERS);
    kit.api.intercept(RECORD("t")).reply(200, ok({ taskId: "t", state: "waiting" }), JSON_HEADERS);
    kit.upload
      .intercept({ path: "/api/file-base64-upload", method: "POST" })
      .reply(
        200,
        { success: true, code: 200, data: { downloadUrl: "https://tempfile.redpandaai.co/a.png" } },
        JSON_HEADERS,
      );

    await kit.client.generateImage({ prompt: "p" }, CALL);
    await kit.client.getTaskStatus("t", CALL);
    await kit.client.uploadFile({ data: new Uint8Array([1, 2, 3]), mimeType: "image/png" }, CALL);

    const calls = kit.calls();
    expect(calls).toHaveLength(3);
    for (const call of calls) {
      expect(call.headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(call.headers["x-request-id"]).toBe("req-7d1e");
    }
    kit.agent.assertNoPendingInterceptors();
  });

  it("sends the createTask body built from the catalogue", async () => {
    kit = makeKit({ textModel: "nano-banana-pro" });
    kit.api
      .intercept({ path: "/api/v1/jobs/createTask", method: "POST" })
      .reply(200, ok({ taskId: "t-42" }), JSON_HEADERS);
    const result = await kit.client.generateImage(
      { prompt: "a banana", aspectRatio: "3:2", outputFormat: "jpeg", randomSeed: 7 },
      { ...CALL, callBackUrl: "https://app.example.com/api/kie/callback?job=j1&token=s" },
    );
    expect(result.taskId).toBe("t-42");
    expect(result.model).toBe("nano-banana-pro");
    expect(result.warnings).toHaveLength(1);
    const [call] = kit.calls();
    expect(call?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(call?.body ?? "")).toEqual({
      model: "nano-banana-pro",
      callBackUrl: "https://app.example.com/api/kie/callback?job=j1&token=s",
      input: { prompt: "a banana", aspect_ratio: "3:2", resolution: "1K", output_format: "jpg" },
    });
  });

  it("works over a real socket with the client's own keep-alive agent", async () => {
    server = await startServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(ok({ taskId: "t1", state: "waiting" })));
    });
    kit = makeKit({ server: server.url, baseUrl: `${server.url}/` });
    expect((await kit.client.getTaskStatus("t1", CALL)).state).toBe("waiting");
    expect((await kit.client.getTaskStatus("t1", CALL)).state).toBe("waiting");
    expect(server.hits.map((h) => h.url)).toEqual([
      "/api/v1/jobs/recordInfo?taskId=t1",
      "/api/v1/jobs/recordInfo?taskId=t1",
    ]);
    expect(server.hits[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(server.hits[0]?.headers["x-request-id"]).toBe("req-7d1e");
  });
});

describe("getTaskStatus", () => {
  it("answers 'pending' when KIE has not written the record yet", async () => {
    kit = makeKit();
    kit.api
      .intercept(RECORD("fresh"))
      .reply(200, { code: 422, msg: "recordInfo is null", data: null }, JSON_HEADERS);
    expect(await kit.client.getTaskStatus("fresh", CALL)).toEqual({
      taskId: "fresh",
      state: "pending",
      resultUrls: [],
    });
    expect(kit.calls()).toHaveLength(1);
  });

  it("also when that answer comes with HTTP 422", async () => {
    kit = makeKit();
    kit.api
      .intercept(RECORD("fresh"))
      .reply(422, { code: 422, msg: "recordInfo is null", data: null }, JSON_HEADERS);
    expect((await kit.client.getTaskStatus("fresh", CALL)).state).toBe("pending");
  });

  it("a different 422 is still a ValidationError", async () => {
    kit = makeKit();
    kit.api
      .intercept(RECORD("x"))
      .reply(200, { code: 422, msg: "taskId is invalid", data: null }, JSON_HEADERS);
    expect(await captureError(kit.client.getTaskStatus("x", CALL))).toBeInstanceOf(ValidationError);
  });

  it("an unknown task is NotFoundError", async () => {
    kit = makeKit();
    kit.api.intercept(RECORD("nope")).reply(200, { code: 404, msg: "task not found" }, JSON_HEADERS);
    expect(await captureError(kit.client.getTaskStatus("nope", CALL))).toBeInstanceOf(NotFoundError);
  });

  it("decodes param and resultJson of a finished task", async () => {
    kit = makeKit();
    kit.api.intercept(RECORD("t1")).reply(
      200,
      ok({
        taskId: "t1",
        model: "google/nano-banana",
        state: "success",
        param: JSON.stringify({
          model: "google/nano-banana",
          callBackUrl: "https://app/cb?job=j",
          input: { prompt: "p" },
        }),
        resultJson: JSON.stringify({ resultUrls: ["https://tempfile.aiquickdraw.com/p/1.png"] }),
        failCode: null,
        failMsg: null,
        costTime: null,
        createTime: 1757584152490,
        completeTime: 1757584164490,
        brandNewField: "ignored",
      }),
      JSON_HEADERS,
    );
    const record = await kit.client.getTaskStatus("t1", CALL);
    expect(record).toMatchObject({
      taskId: "t1",
      state: "success",
      resultUrls: ["https://tempfile.aiquickdraw.com/p/1.png"],
      callBackUrl: "https://app/cb?job=j",
      model: "google/nano-banana",
      createTime: 1757584152490,
      completeTime: 1757584164490,
    });
    expect(record.failCode).toBeUndefined();
  });

  it("tolerates an unknown state", async () => {
    kit = makeKit();
    kit.api
      .intercept(RECORD("t1"))
      .reply(200, ok({ taskId: "t1", state: "upscaling", resultJson: "" }), JSON_HEADERS);
    expect(await kit.client.getTaskStatus("t1", CALL)).toMatchObject({
      state: "unknown",
      rawState: "upscaling",
    });
  });

  it("escapes the task id in the query string", async () => {
    kit = makeKit();
    kit.api.intercept(RECORD("a&b=c")).reply(200, ok({ taskId: "a&b=c", state: "waiting" }), JSON_HEADERS);
    expect((await kit.client.getTaskStatus("a&b=c", CALL)).state).toBe("waiting");
    expect(kit.calls()[0]?.path).toBe("/api/v1/jobs/recordInfo");
  });

  it("a 501 carrying the record is a failed task record, not an exception", async () => {
    kit = makeKit();
    kit.api
      .intercept(RECORD("t1"))
      .reply(200, { code: 501, msg: "failed", data: { taskId: "t1", failMsg: "nsfw" } }, JSON_HEADERS);
    expect(await kit.client.getTaskStatus("t1", CALL)).toMatchObject({ state: "fail", failMsg: "nsfw" });
  });

  it("a bare 501 is a TaskFailedError", async () => {
    kit = makeKit();
    kit.api
      .intercept(RECORD("t1"))
      .reply(200, { code: 501, msg: "generation failed", data: null }, JSON_HEADERS);
    const error = await captureError(kit.client.getTaskStatus("t1", CALL));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error).toMatchObject({ taskId: "t1" });
  });
});
