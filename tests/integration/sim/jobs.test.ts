import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningKieSim } from "@/sim/server";
import {
  call,
  createTask,
  fetchImage,
  KEY,
  pollUntilFinal,
  resultUrlOf,
  startTestSim,
  textTask,
} from "./simTestKit";

let sim: RunningKieSim;

beforeAll(async () => {
  sim = await startTestSim({ apiKeys: [KEY] });
});
afterAll(() => sim.close());

describe("text-to-image task lifecycle", () => {
  it("answers 'recordInfo is null' at first, then walks waiting → queuing → generating → success", async () => {
    // Wide steps so every state is observable by a poller on a busy machine.
    const slow = await startTestSim({ stepMs: 400, recordDelayMs: 300 });
    try {
      const create = await call(slow, "/api/v1/jobs/createTask", { body: textTask("a banana astronaut") });
      expect(create.status).toBe(200);
      expect(create.json).toEqual({
        code: 200,
        msg: "success",
        data: { taskId: expect.stringMatching(/^[0-9a-f]{32}$/) },
      });
      const { final, seen } = await pollUntilFinal(slow, create.json.data.taskId, 25);

      expect(seen[0]!.status).toBe(200);
      expect(seen[0]!.json).toEqual({ code: 422, msg: "recordInfo is null", data: null });
      const order = ["null", "waiting", "queuing", "generating", "success"];
      const states = seen.map((a) => (a.json.data === null ? "null" : a.json.data.state));
      const distinct = states.filter((s, i) => s !== states[i - 1]);
      expect(distinct.map((s) => order.indexOf(s))).toEqual(
        [...distinct.map((s) => order.indexOf(s))].sort((x, y) => x - y),
      );
      expect(distinct).toContain("queuing");
      expect(distinct).toContain("generating");
      expect(distinct.at(-1)).toBe("success");

      expect(final).toMatchObject({
        taskId: create.json.data.taskId,
        model: "google/nano-banana",
        state: "success",
        failCode: "",
        failMsg: "",
      });
      expect(typeof final.param).toBe("string");
      expect(JSON.parse(final.param)).toEqual(textTask("a banana astronaut"));
      expect(final.completeTime).toBeGreaterThanOrEqual(final.createTime);
      expect(final.updateTime).toBe(final.completeTime);
      expect(final.costTime).toBe(final.completeTime - final.createTime);
      expect(JSON.parse(final.resultJson)).toEqual({
        resultUrls: [expect.stringMatching(/\/results\/[0-9a-f]{32}\.png$/)],
      });
    } finally {
      await slow.close();
    }
  });

  it("keeps resultJson, failCode and failMsg empty strings and times null while running", async () => {
    const held = await startTestSim({ stepMs: 60_000, recordDelayMs: 0 });
    try {
      const taskId = await createTask(held, textTask("still running"));
      const answer = await call(held, `/api/v1/jobs/recordInfo?taskId=${taskId}`);
      expect(answer.json.data).toMatchObject({
        state: "waiting",
        resultJson: "",
        failCode: "",
        failMsg: "",
        costTime: null,
        completeTime: null,
      });
    } finally {
      await held.close();
    }
  });

  it.each([
    ["1:1", "png", 1024, 1024],
    ["16:9", "png", 1344, 768],
    ["9:16", "jpeg", 768, 1344],
    ["4:3", "jpeg", 1184, 864],
    ["21:9", "png", 1536, 672],
  ] as const)("draws %s as %s at Nano Banana's size (scaled 1/8)", async (ratio, format, width, height) => {
    const taskId = await createTask(
      sim,
      textTask(`ratio ${ratio}`, { aspect_ratio: ratio, output_format: format }),
    );
    const { final } = await pollUntilFinal(sim, taskId);
    const url = resultUrlOf(final);
    expect(url.endsWith(format === "png" ? ".png" : ".jpg")).toBe(true);
    const image = await fetchImage(url);
    expect(image.contentType).toBe(format === "png" ? "image/png" : "image/jpeg");
    expect(image.meta.format).toBe(format);
    expect([image.meta.width, image.meta.height]).toEqual([width / 8, height / 8]);
    const [a, b] = ratio.split(":").map(Number);
    expect(Math.abs(image.meta.width! / image.meta.height! - a! / b!) / (a! / b!)).toBeLessThan(0.03);
  });

  it("draws 'auto' as 1:1 for text-to-image", async () => {
    const { final } = await pollUntilFinal(
      sim,
      await createTask(sim, textTask("auto", { aspect_ratio: "auto" })),
    );
    const image = await fetchImage(resultUrlOf(final));
    expect(image.meta.width).toBe(image.meta.height);
  });

  it("draws the same bytes for the same prompt and different bytes for another", async () => {
    const [a, b, c] = await Promise.all(
      ["a red fox in snow", "a red fox in snow", "a blue whale"].map(async (prompt) => {
        const { final } = await pollUntilFinal(
          sim,
          await createTask(sim, textTask(prompt, { aspect_ratio: "3:2" })),
        );
        return (await fetchImage(resultUrlOf(final))).bytes;
      }),
    );
    expect(a!.equals(b!)).toBe(true);
    expect(a!.equals(c!)).toBe(false);
  });

  it("serves nano-banana-pro with aspect_ratio and resolution (2K doubles the size) as png", async () => {
    const taskId = await createTask(sim, {
      model: "nano-banana-pro",
      input: { prompt: "pro", aspect_ratio: "16:9", resolution: "2K", output_format: "png" },
    });
    const { final } = await pollUntilFinal(sim, taskId);
    expect(final.model).toBe("nano-banana-pro");
    const image = await fetchImage(resultUrlOf(final));
    expect([image.meta.width, image.meta.height]).toEqual([(1344 * 2) / 8, (768 * 2) / 8]);
  });

  it("serves nano-banana-2 with its extra ratios and jpg by default", async () => {
    const taskId = await createTask(sim, {
      model: "nano-banana-2",
      input: { prompt: "tall", aspect_ratio: "1:4" },
    });
    const { final } = await pollUntilFinal(sim, taskId);
    const image = await fetchImage(resultUrlOf(final));
    expect(image.meta.format).toBe("jpeg");
    expect(image.meta.height! / image.meta.width!).toBeCloseTo(4, 1);
  });
});

describe("validation like KIE (HTTP 200, error code in the body naming the field)", () => {
  it.each([
    ["missing prompt", { model: "google/nano-banana", input: {} }, 422, "input.prompt"],
    ["blank prompt", { model: "google/nano-banana", input: { prompt: "   " } }, 422, "input.prompt"],
    ["too long prompt", { model: "google/nano-banana", input: { prompt: "x".repeat(5001) } }, 422, "5000"],
    ["missing model", { input: { prompt: "p" } }, 422, "model"],
    ["unknown model", { model: "google/nano-bananas", input: { prompt: "p" } }, 422, "model"],
    ["missing input", { model: "google/nano-banana" }, 422, "input"],
    [
      "bad aspect_ratio",
      { model: "google/nano-banana", input: { prompt: "p", aspect_ratio: "7:3" } },
      422,
      "aspect_ratio",
    ],
    [
      "bad deprecated image_size",
      { model: "google/nano-banana", input: { prompt: "p", image_size: "7:3" } },
      422,
      "image_size",
    ],
    [
      "bad output_format",
      { model: "google/nano-banana", input: { prompt: "p", output_format: "gif" } },
      422,
      "output_format",
    ],
    ["edit without images", { model: "google/nano-banana-edit", input: { prompt: "p" } }, 422, "image_urls"],
    [
      "too many images",
      {
        model: "google/nano-banana-edit",
        input: { prompt: "p", image_urls: Array(11).fill("https://x.test/a.png") },
      },
      422,
      "image_urls",
    ],
    [
      "non-URL image",
      { model: "google/nano-banana-edit", input: { prompt: "p", image_urls: ["not a url"] } },
      422,
      "image_urls[0]",
    ],
    [
      "field of another model",
      { model: "nano-banana-pro", input: { prompt: "p", image_size: "1:1" } },
      422,
      "input.image_size",
    ],
    [
      "resolution on a model without it",
      { model: "google/nano-banana", input: { prompt: "p", resolution: "2K" } },
      422,
      "input.resolution",
    ],
    [
      "google_search on nano-banana-pro",
      { model: "nano-banana-pro", input: { prompt: "p", google_search: true } },
      422,
      "input.google_search",
    ],
    [
      "google_search on nano-banana-2 (gone from its schema)",
      { model: "nano-banana-2", input: { prompt: "p", google_search: true } },
      422,
      "input.google_search",
    ],
    [
      "Lite without its required aspect_ratio",
      { model: "nano-banana-2-lite", input: { prompt: "p" } },
      422,
      "input.aspect_ratio",
    ],
    [
      "output_format on Lite",
      { model: "nano-banana-2-lite", input: { prompt: "p", aspect_ratio: "1:1", output_format: "png" } },
      422,
      "input.output_format",
    ],
    [
      "an unknown top-level field",
      { model: "google/nano-banana", input: { prompt: "p" }, seed: 7 },
      422,
      "seed",
    ],
    [
      "image_urls on nano-banana-2",
      { model: "nano-banana-2", input: { prompt: "p", image_urls: ["https://x.test/a.png"] } },
      422,
      "input.image_urls",
    ],
    [
      "a tall ratio on nano-banana-pro",
      { model: "nano-banana-pro", input: { prompt: "p", aspect_ratio: "1:8" } },
      422,
      "aspect_ratio",
    ],
    [
      "bad resolution",
      { model: "nano-banana-pro", input: { prompt: "p", resolution: "8K" } },
      422,
      "resolution",
    ],
    [
      "bad callBackUrl",
      { model: "google/nano-banana", callBackUrl: "ftp://x", input: { prompt: "p" } },
      422,
      "callBackUrl",
    ],
    ["not an object", [1, 2], 400, "JSON object"],
  ])("%s → code %i", async (_name, body, code, field) => {
    const answer = await call(sim, "/api/v1/jobs/createTask", { body });
    expect(answer.status).toBe(200);
    expect(answer.json.code).toBe(code);
    expect(answer.json.msg).toContain(field);
    expect(answer.json.data).toBeNull();
  });

  it("refuses a body that is not JSON with code 400", async () => {
    const answer = await call(sim, "/api/v1/jobs/createTask", {
      body: "{not json",
      headers: { "content-type": "application/json" },
    });
    expect(answer.json).toMatchObject({ code: 400, msg: expect.stringContaining("JSON") });
  });

  it("creates no task for a refused request", async () => {
    const before = sim.stats().tasksCreated;
    await call(sim, "/api/v1/jobs/createTask", { body: { model: "google/nano-banana", input: {} } });
    expect(sim.stats().tasksCreated).toBe(before);
  });

  it("answers recordInfo without taskId with 422 and an unknown taskId with 404", async () => {
    expect((await call(sim, "/api/v1/jobs/recordInfo")).json).toMatchObject({
      code: 422,
      msg: expect.stringContaining("taskId"),
    });
    const unknown = await call(sim, "/api/v1/jobs/recordInfo?taskId=0123456789abcdef0123456789abcdef");
    expect(unknown.status).toBe(200);
    expect(unknown.json).toMatchObject({ code: 404, data: null });
  });

  it("answers an unknown path with HTTP 404 and a wrong method with 405", async () => {
    const missing = await call(sim, "/api/v1/jobs/nothing");
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ code: 404, data: null });
    const wrong = await call(sim, "/api/v1/jobs/createTask");
    expect(wrong.status).toBe(405);
    expect(wrong.json.code).toBe(405);
  });
});

describe("authentication", () => {
  it("refuses a missing Bearer key with HTTP 401 and code 401", async () => {
    const answer = await call(sim, "/api/v1/chat/credit", { key: null });
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ code: 401, data: null });
  });

  it("refuses a key that is not in apiKeys", async () => {
    const answer = await call(sim, "/api/v1/jobs/createTask", { key: "wrong-key", body: textTask("p") });
    expect(answer.status).toBe(401);
    expect(answer.json.code).toBe(401);
  });

  it("refuses an upload without a key with success: false", async () => {
    const answer = await call(sim, "/api/file-base64-upload", {
      key: null,
      body: { base64Data: "aGVsbG8=", uploadPath: "x" },
    });
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ success: false, code: 401 });
  });

  it("accepts any non-empty Bearer token when no apiKeys are configured", async () => {
    const open = await startTestSim();
    try {
      expect((await call(open, "/api/v1/chat/credit", { key: "anything" })).json.code).toBe(200);
      expect((await call(open, "/api/v1/chat/credit", { key: null })).status).toBe(401);
    } finally {
      await open.close();
    }
  });

  it("serves result files without a key (they are public URLs)", async () => {
    const { final } = await pollUntilFinal(sim, await createTask(sim, textTask("public")));
    expect((await fetch(resultUrlOf(final))).status).toBe(200);
  });
});

describe("account", () => {
  it("reports credits as a bare number and charges each successful task", async () => {
    const account = await startTestSim({ accountCredits: 10 });
    try {
      expect((await call(account, "/api/v1/chat/credit")).json).toEqual({
        code: 200,
        msg: "success",
        data: 10,
      });
      const { final } = await pollUntilFinal(account, await createTask(account, textTask("charged")));
      expect(final.creditsConsumed).toBe(4);
      expect((await call(account, "/api/v1/chat/credit")).json.data).toBe(6);
    } finally {
      await account.close();
    }
  });

  it("refuses createTask with code 402 when the KIE account is out of credits", async () => {
    const broke = await startTestSim({ accountCredits: 3 });
    try {
      const answer = await call(broke, "/api/v1/jobs/createTask", { body: textTask("too expensive") });
      expect(answer.status).toBe(200);
      expect(answer.json.code).toBe(402);
      expect(broke.tasks()).toHaveLength(0);
    } finally {
      await broke.close();
    }
  });

  it("rejects createTask beyond the configured rate limit with HTTP 429 and Retry-After", async () => {
    const limited = await startTestSim({ createTaskRateLimit: { limit: 2, windowMs: 60_000 } });
    try {
      await createTask(limited, textTask("one"));
      await createTask(limited, textTask("two"));
      const third = await call(limited, "/api/v1/jobs/createTask", { body: textTask("three") });
      expect(third.status).toBe(429);
      expect(third.json.code).toBe(429);
      expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(limited.tasks()).toHaveLength(2);
    } finally {
      await limited.close();
    }
  });
});

describe("bounded memory", () => {
  it("forgets the oldest tasks beyond maxTasks", async () => {
    const small = await startTestSim({ maxTasks: 3, stepMs: 60_000 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await createTask(small, textTask(`t${i}`)));
      expect(small.tasks().map((t) => t.taskId)).toEqual(ids.slice(2));
      expect((await call(small, `/api/v1/jobs/recordInfo?taskId=${ids[0]}`)).json.code).toBe(404);
    } finally {
      await small.close();
    }
  });
});
