/**
 * lib/kie/provider.ts: KIE's client seen through lib/generation's provider port — KIE's states in
 * neutral words, the catalogue's choice mapped to createTask, and KIE's errors classified.
 */
import { describe, expect, it } from "vitest";
import { chooseModel } from "@/lib/catalog";
import type { ImageProvider } from "@/lib/generation";
import {
  createKieProvider,
  KIE_UPLOAD_PATH,
  type KieProviderClient,
  NetworkError,
  RateLimitError,
  ServiceError,
  TaskFailedError,
  type TaskRecord,
  ValidationError,
} from "@/lib/kie";

function clientWith(record: Partial<TaskRecord>, calls: unknown[][] = []): KieProviderClient {
  return {
    generateImage: async (...args) => {
      calls.push(["generateImage", ...args]);
      return { taskId: "t-1", model: "m", warnings: ["w"] };
    },
    getTaskStatus: async (taskId) => ({ taskId, state: "waiting", resultUrls: [], ...record }),
    uploadFile: async (...args) => {
      calls.push(["uploadFile", ...args]);
      return { downloadUrl: "https://kie.example/up.png" } as never;
    },
  };
}

describe("the KIE provider adapter", () => {
  it("maps every KIE state to a neutral one", async () => {
    const expected = {
      pending: "unrecorded",
      waiting: "waiting",
      unknown: "waiting",
      queuing: "running",
      generating: "running",
      success: "succeeded",
      fail: "failed",
    } as const;
    for (const [state, neutral] of Object.entries(expected)) {
      const provider: ImageProvider = createKieProvider(clientWith({ state: state as TaskRecord["state"] }));
      const task = await provider.readTask("t-1", { requestId: "r" });
      expect([state, task.state]).toEqual([state, neutral]);
    }
    const failed = await createKieProvider(
      clientWith({ state: "fail", failCode: "500", failMsg: "nope", callBackUrl: "https://cb" }),
    ).readTask("t-1", { requestId: "r" });
    expect(failed).toMatchObject({ failCode: "500", failMessage: "nope", callBackUrl: "https://cb" });
  });

  it("passes on what KIE says the task cost (creditsConsumed), and nothing for a negative amount", async () => {
    const creditsOf = async (record: Partial<TaskRecord>) =>
      (
        await createKieProvider(clientWith({ state: "success", ...record })).readTask("t-1", {
          requestId: "r",
        })
      ).providerCredits;
    expect(await creditsOf({ creditsConsumed: 24 })).toBe(24);
    expect(await creditsOf({ creditsConsumed: 0 })).toBe(0);
    expect(await creditsOf({ creditsConsumed: 2.5 })).toBe(2.5);
    expect(await creditsOf({})).toBeUndefined();
    expect(await creditsOf({ creditsConsumed: -1 })).toBeUndefined();
  });

  it("gives KIE's own duration of an ended task (completeTime − createTime), and nothing for nonsense", async () => {
    const created = 1_757_584_152_490;
    const durationOf = async (times: Partial<TaskRecord>) =>
      (
        await createKieProvider(clientWith({ state: "success", ...times })).readTask("t-1", {
          requestId: "r",
        })
      ).durationMs;
    expect(await durationOf({ createTime: created, completeTime: created + 12_000 })).toBe(12_000);
    expect(await durationOf({ createTime: created, completeTime: created + 3_600_000 })).toBe(3_600_000);
    expect(await durationOf({ createTime: 1_000_000_000_000, completeTime: 1_000_000_000_001 })).toBe(1);
    for (const nonsense of [
      {}, // a running task: no times yet
      { createTime: created }, // no completeTime (null is read as missing)
      { completeTime: created },
      { createTime: 0, completeTime: created },
      { createTime: created, completeTime: 0 },
      { createTime: created, completeTime: created }, // no time at all
      { createTime: created, completeTime: created - 5_000 }, // ended before it began
      { createTime: created, completeTime: created + 3_600_001 }, // over an hour: a broken record
      { createTime: 1_757_584_152, completeTime: 1_757_584_164 }, // seconds, not milliseconds
      { createTime: 999_999_999_999, completeTime: 1_000_000_010_000 },
    ]) {
      expect([nonsense, await durationOf(nonsense)]).toEqual([nonsense, undefined]);
    }
  });

  it("sends the catalogue's KIE model, the priced resolution and the image URLs; uploads under our path", async () => {
    const calls: unknown[][] = [];
    const provider = createKieProvider(clientWith({}, calls));
    const request = { prompt: "p", images: ["https://a.example/1.png"] };
    const model = chooseModel({}, 2, {
      textModel: "google/nano-banana",
      editModel: "google/nano-banana-edit",
    });
    const created = await provider.createTask(
      {
        request,
        model,
        imageUrls: ["https://a.example/1.png", "https://b.example/2.png"],
        callBackUrl: "https://cb",
      },
      { requestId: "r" },
    );
    expect(created).toEqual({ taskId: "t-1", warnings: ["w"] });
    expect(calls[0]?.[1]).toMatchObject({
      model: "google/nano-banana-edit",
      images: undefined,
      imageUrls: ["https://a.example/1.png", "https://b.example/2.png"],
    });
    expect(calls[0]?.[2]).toEqual({ requestId: "r", callBackUrl: "https://cb" });
    const uploaded = await provider.uploadFile(
      { data: new Blob([]), mimeType: "image/png" },
      { requestId: "r" },
    );
    expect(uploaded).toEqual({ url: "https://kie.example/up.png" });
    expect(calls[1]?.[2]).toEqual({ requestId: "r", uploadPath: KIE_UPLOAD_PATH });
  });

  it("classifies KIE's errors: failing, ambiguous, described", () => {
    const provider = createKieProvider(clientWith({}));
    const refused = new ValidationError({ endpoint: "createTask", code: 422 });
    const down = new ServiceError({ endpoint: "recordInfo", code: 500, retryable: true });
    const lost = new NetworkError({ endpoint: "createTask", sent: true });
    expect([refused, down, lost, new Error("x")].map((e) => provider.isProviderFailing(e))).toEqual([
      false,
      true,
      lost.retryable,
      true,
    ]);
    expect(provider.isAmbiguousCreateFailure(lost)).toBe(true);
    expect(provider.isAmbiguousCreateFailure(refused)).toBe(false);
    expect(provider.describeError(refused)).toBe("createTask: validation (422)");
    expect(
      provider.describeError(new TaskFailedError({ endpoint: "recordInfo", failMsg: "bad prompt" })),
    ).toBe("bad prompt");
    expect(provider.describeError(new Error("plain"))).toBeUndefined();
    expect(provider.parseCallback({ code: 200, msg: "ok", data: { taskId: "t-9" } })).toEqual({
      ok: true,
      taskId: "t-9",
    });
    expect(provider.parseCallback({ nope: 1 })).toEqual({ ok: false });
  });

  it("tells a createTask KIE refused for its rate limit, with the pause it asks for (Retry-After, else 10 s)", () => {
    const provider = createKieProvider(clientWith({}));
    const withWait = new RateLimitError({ endpoint: "createTask", code: 429, retryAfterMs: 3_000 });
    const without = new RateLimitError({ endpoint: "createTask", code: 429 });
    expect(provider.isRateLimited(withWait)).toBe(3_000);
    expect(provider.isRateLimited(without)).toBe(10_000);
    expect(provider.isRateLimited(new ServiceError({ endpoint: "createTask", code: 500 }))).toBeUndefined();
    expect(provider.isRateLimited(new Error("x"))).toBeUndefined();
  });
});
