import { describe, expect, it } from "vitest";
import { CATALOG, lookupModel } from "@/lib/catalog";
import {
  type CreateTaskInput,
  createTaskDataSchema,
  isRecordNotYetWritten,
  parseJsonString,
  parseKieCallback,
  readEnvelope,
  SEED_NOT_SENT_WARNING,
  toCreateTaskBody,
  toTaskRecord,
  toUploadedFile,
} from "@/lib/kie";
import { ValidationError } from "@/lib/kie/errors";
import { validateCreateTask } from "@/sim/models";

const DEFAULTS = { textModel: "google/nano-banana", editModel: "google/nano-banana-edit" };
const URL_A = "https://tempfile.redpandaai.co/u/a.png";
const URL_B = "https://tempfile.redpandaai.co/u/b.png";

describe("readEnvelope", () => {
  it("reads code, msg and data", () => {
    expect(readEnvelope({ code: 200, msg: "success", data: { taskId: "t" } })).toEqual({
      code: 200,
      msg: "success",
      data: { taskId: "t" },
      success: undefined,
    });
  });

  it("takes `message` where `msg` is missing, and a numeric-string code", () => {
    expect(readEnvelope({ code: "422", message: "prompt is required" })).toMatchObject({
      code: 422,
      msg: "prompt is required",
      data: null,
    });
  });

  it("reports `success` from the upload host", () => {
    expect(readEnvelope({ success: false, code: 400, msg: "bad" })?.success).toBe(false);
  });

  it("returns undefined for something that is not an envelope", () => {
    expect(readEnvelope("<html>")).toBeUndefined();
    expect(readEnvelope({ status: "ok" })).toBeUndefined();
    expect(readEnvelope(null)).toBeUndefined();
  });
});

describe("createTask response", () => {
  it("requires a task id, tolerating task_id", () => {
    expect(createTaskDataSchema.parse({ taskId: "abc" }).taskId).toBe("abc");
    expect(createTaskDataSchema.parse({ task_id: "xyz", extra: 1 }).taskId).toBe("xyz");
    expect(createTaskDataSchema.safeParse({}).success).toBe(false);
    expect(createTaskDataSchema.safeParse({ taskId: "" }).success).toBe(false);
    expect(createTaskDataSchema.safeParse(null).success).toBe(false);
  });
});

describe("parseJsonString", () => {
  it("decodes JSON text and passes objects through", () => {
    expect(parseJsonString('{"a":1}')).toEqual({ a: 1 });
    expect(parseJsonString({ a: 1 })).toEqual({ a: 1 });
  });
  it.each([[null], [undefined], [""], ["  "], ["{not json"], ["null"], [42]])("%o → undefined", (value) => {
    expect(parseJsonString(value)).toBeUndefined();
  });
});

describe("toTaskRecord", () => {
  const success = {
    taskId: "281e5b0a",
    model: "google/nano-banana",
    state: "success",
    param: JSON.stringify({
      model: "google/nano-banana",
      callBackUrl: "https://app/cb?job=1&token=t",
      input: {},
    }),
    resultJson: JSON.stringify({ resultUrls: ["https://tempfile.aiquickdraw.com/workers/nano/image.png"] }),
    failCode: "",
    failMsg: "",
    costTime: 12000,
    completeTime: 1757584164490,
    createTime: 1757584152490,
    updateTime: 1757584164491,
    creditsConsumed: 4,
    somethingNew: { nested: true },
  };

  it("normalizes the documented success record", () => {
    expect(toTaskRecord(success)).toEqual({
      taskId: "281e5b0a",
      state: "success",
      rawState: "success",
      resultUrls: ["https://tempfile.aiquickdraw.com/workers/nano/image.png"],
      callBackUrl: "https://app/cb?job=1&token=t",
      model: "google/nano-banana",
      param: { model: "google/nano-banana", callBackUrl: "https://app/cb?job=1&token=t", input: {} },
      createTime: 1757584152490,
      updateTime: 1757584164491,
      completeTime: 1757584164490,
      costTime: 12000,
      creditsConsumed: 4,
    });
  });

  it.each([
    ["null", null],
    ["empty", ""],
    ["invalid", "{resultUrls:"],
    ["absent", undefined],
  ])("tolerates %s resultJson and param", (_name, value) => {
    const record = toTaskRecord({ taskId: "t", state: "generating", resultJson: value, param: value });
    expect(record).toEqual({ taskId: "t", state: "generating", rawState: "generating", resultUrls: [] });
  });

  it("treats failCode/failMsg as absent when empty or null", () => {
    const record = toTaskRecord({ taskId: "t", state: "waiting", failCode: null, failMsg: null });
    expect(record.failCode).toBeUndefined();
    expect(record.failMsg).toBeUndefined();
  });

  it("keeps failCode/failMsg of a failed task, sanitized", () => {
    const record = toTaskRecord(
      { taskId: "t", state: "fail", failCode: 400, failMsg: "blocked\nby policy; key sk-1" },
      { secrets: ["sk-1"] },
    );
    expect(record).toMatchObject({
      state: "fail",
      failCode: "400",
      failMsg: "blocked by policy; key [redacted]",
    });
  });

  it("maps an unknown state to `unknown`, keeping the raw value", () => {
    expect(toTaskRecord({ taskId: "t", state: "rendering" })).toMatchObject({
      state: "unknown",
      rawState: "rendering",
    });
    expect(toTaskRecord({ taskId: "t" })).toMatchObject({ state: "unknown" });
    expect(toTaskRecord({ taskId: "t", state: 7 }).state).toBe("unknown");
  });

  it("accepts task_id, falls back to the task asked about, and survives garbage", () => {
    expect(toTaskRecord({ task_id: "x", state: "queuing" }).taskId).toBe("x");
    expect(toTaskRecord({ state: "queuing" }, { taskId: "asked" }).taskId).toBe("asked");
    expect(toTaskRecord("garbage", { taskId: "asked" })).toEqual({
      taskId: "asked",
      state: "unknown",
      resultUrls: [],
    });
  });

  it("ignores odd types in fields it does not depend on", () => {
    const record = toTaskRecord({
      taskId: "t",
      state: "generating",
      costTime: null,
      createTime: "1757584152490",
      progress: "half",
    });
    expect(record.costTime).toBeUndefined();
    expect(record.createTime).toBe(1757584152490);
    expect(record.progress).toBeUndefined();
  });

  it("keeps only URL strings from resultUrls, and reads a text model's resultObject", () => {
    const record = toTaskRecord({
      taskId: "t",
      state: "success",
      resultJson: JSON.stringify({
        resultUrls: ["https://a/x.png", 3, "", "javascript:alert(1)"],
        resultObject: { text: "hi" },
      }),
    });
    expect(record.resultUrls).toEqual(["https://a/x.png"]);
    expect(record.resultObject).toEqual({ text: "hi" });
  });

  it("accepts resultJson already decoded, and resultUrls beside it", () => {
    expect(
      toTaskRecord({ taskId: "t", state: "success", resultJson: { resultUrls: ["https://a/1.png"] } })
        .resultUrls,
    ).toEqual(["https://a/1.png"]);
    expect(
      toTaskRecord({ taskId: "t", state: "success", resultUrls: ["https://a/2.png"] }).resultUrls,
    ).toEqual(["https://a/2.png"]);
  });
});

describe("isRecordNotYetWritten", () => {
  it("recognizes KIE's 'recordInfo is null' answer", () => {
    expect(isRecordNotYetWritten(readEnvelope({ code: 422, msg: "recordInfo is null", data: null }))).toBe(
      true,
    );
    expect(isRecordNotYetWritten(readEnvelope({ code: 422, message: "recordInfo is null" }))).toBe(true);
  });
  it("does not mistake a real validation error for it", () => {
    expect(isRecordNotYetWritten(readEnvelope({ code: 422, msg: "taskId is required", data: null }))).toBe(
      false,
    );
    expect(isRecordNotYetWritten(readEnvelope({ code: 200, msg: "recordInfo is null", data: null }))).toBe(
      false,
    );
    expect(isRecordNotYetWritten(undefined)).toBe(false);
  });
});

describe("parseKieCallback", () => {
  it("reads a success callback", () => {
    const parsed = parseKieCallback({
      code: 200,
      msg: "Playground task completed successfully.",
      data: { taskId: "t1", state: "success", resultJson: '{"resultUrls":["https://a/r.png"]}' },
    });
    expect(parsed).toMatchObject({
      ok: true,
      taskId: "t1",
      code: 200,
      record: { state: "success", resultUrls: ["https://a/r.png"] },
    });
  });

  it("reads task_id, a failure without param, and null resultJson", () => {
    const parsed = parseKieCallback({
      code: 501,
      msg: "failed",
      data: { task_id: "t2", state: "fail", resultJson: null, failCode: "500", failMsg: "Internal error" },
    });
    expect(parsed).toMatchObject({
      ok: true,
      taskId: "t2",
      code: 501,
      record: { taskId: "t2", state: "fail", failCode: "500", failMsg: "Internal error", resultUrls: [] },
    });
  });

  it("derives the state from the code when data has none", () => {
    const parsed = parseKieCallback({ code: 501, msg: "x", data: { taskId: "t3" } });
    expect(parsed.ok && parsed.record.state).toBe("fail");
  });

  it("rejects bodies without a task id or envelope", () => {
    expect(parseKieCallback({ code: 200, data: {} })).toEqual({
      ok: false,
      problem: "callback carries no taskId",
    });
    expect(parseKieCallback("x").ok).toBe(false);
    expect(parseKieCallback({ data: { taskId: "t" } }).ok).toBe(false);
  });
});

describe("toUploadedFile", () => {
  it("reads the documented answer", () => {
    expect(
      toUploadedFile({
        fileName: "a.png",
        filePath: "images/user-uploads/a.png",
        downloadUrl: URL_A,
        fileSize: 154832,
        mimeType: "image/png",
        uploadedAt: "2025-01-01T12:00:00.000Z",
      }),
    ).toEqual({
      downloadUrl: URL_A,
      fileName: "a.png",
      filePath: "images/user-uploads/a.png",
      fileSize: 154832,
      mimeType: "image/png",
    });
  });

  it("tolerates fileUrl or url instead of downloadUrl", () => {
    expect(toUploadedFile({ fileId: "1", originalName: "o.png", fileUrl: URL_B })).toEqual({
      downloadUrl: URL_B,
      fileName: "o.png",
    });
    expect(toUploadedFile({ url: URL_A })).toEqual({ downloadUrl: URL_A });
  });

  it("prefers downloadUrl when several are present", () => {
    expect(toUploadedFile({ fileUrl: URL_B, downloadUrl: URL_A })?.downloadUrl).toBe(URL_A);
  });

  it("returns undefined when no URL is named", () => {
    expect(toUploadedFile({ fileName: "a.png" })).toBeUndefined();
    expect(toUploadedFile({ downloadUrl: "not a url" })).toBeUndefined();
    expect(toUploadedFile(null)).toBeUndefined();
  });
});

describe("toCreateTaskBody", () => {
  it("text-to-image on the legacy model: aspect_ratio (not the deprecated image_size), jpeg kept, nsfw_checker off", () => {
    const result = toCreateTaskBody(
      { prompt: "a banana", aspectRatio: "16:9", outputFormat: "jpeg" },
      { ...DEFAULTS, callBackUrl: "https://app.example.com/api/kie/callback?job=j&token=t" },
    );
    expect(result).toEqual({
      model: "google/nano-banana",
      warnings: [],
      body: {
        model: "google/nano-banana",
        callBackUrl: "https://app.example.com/api/kie/callback?job=j&token=t",
        input: { prompt: "a banana", aspect_ratio: "16:9", output_format: "jpeg", nsfw_checker: false },
      },
    });
  });

  it("images without a model choose the configured edit model and image_urls", () => {
    const result = toCreateTaskBody(
      { prompt: "edit", images: [URL_A, URL_B], outputFormat: "png" },
      DEFAULTS,
    );
    expect(result.model).toBe("google/nano-banana-edit");
    expect(result.body).toEqual({
      model: "google/nano-banana-edit",
      input: { prompt: "edit", image_urls: [URL_A, URL_B], output_format: "png", nsfw_checker: false },
    });
    expect(result.body.callBackUrl).toBeUndefined();
  });

  it("sends nsfw_checker: true to the models that document it when the operator turns it on", () => {
    const on = { ...DEFAULTS, nsfwChecker: true };
    expect(toCreateTaskBody({ prompt: "p" }, on).body.input).toEqual({ prompt: "p", nsfw_checker: true });
    expect(toCreateTaskBody({ prompt: "p", images: [URL_A] }, on).body.input.nsfw_checker).toBe(true);
    for (const model of ["nano-banana-pro", "nano-banana-2", "nano-banana-2-1", "nano-banana-2-lite"]) {
      expect(toCreateTaskBody({ prompt: "p", model }, on).body.input).not.toHaveProperty("nsfw_checker");
    }
  });

  it("nano-banana-2-1: image_input ≤ 10, resolution always, jpeg → jpg", () => {
    expect(
      toCreateTaskBody(
        { prompt: "p", model: "nano-banana-2-1", imageUrls: [URL_A], outputFormat: "jpeg" },
        DEFAULTS,
      ).body,
    ).toEqual({
      model: "nano-banana-2-1",
      input: { prompt: "p", image_input: [URL_A], resolution: "1K", output_format: "jpg" },
    });
    expect(() =>
      toCreateTaskBody({ prompt: "p", model: "nano-banana-2-1", imageUrls: Array(11).fill(URL_A) }, DEFAULTS),
    ).toThrow(/at most 10 images/);
  });

  it("nano-banana-2-lite: image_urls, its default ratio when none is asked, no resolution or output_format", () => {
    expect(toCreateTaskBody({ prompt: "p", model: "nano-banana-2-lite" }, DEFAULTS).body).toEqual({
      model: "nano-banana-2-lite",
      input: { prompt: "p", aspect_ratio: "1:1" },
    });
    expect(
      toCreateTaskBody(
        { prompt: "p", model: "nano-banana-2-lite", imageUrls: [URL_A], aspectRatio: "1:8" },
        DEFAULTS,
      ).body.input,
    ).toEqual({ prompt: "p", image_urls: [URL_A], aspect_ratio: "1:8" });
    for (const option of [{ resolution: "1K" }, { outputFormat: "png" }] as const) {
      expect(() =>
        toCreateTaskBody({ prompt: "p", model: "nano-banana-2-lite", ...option }, DEFAULTS),
      ).toThrow(ValidationError);
    }
  });

  it("never sends google_search (gone from nano-banana-2's schema): googleSearch is refused", () => {
    expect(() =>
      toCreateTaskBody({ prompt: "p", model: "nano-banana-2", googleSearch: true }, DEFAULTS),
    ).toThrow(/googleSearch is not an option of nano-banana-2/);
  });

  it("builds only bodies kie-sim's copy of KIE's rules accepts, for every model, text and edit", () => {
    for (const model of CATALOG) {
      for (const imageUrls of [[], [URL_A, URL_B]]) {
        if (imageUrls.length === 0 && lookupModel(model.kie.textModel)?.requiresImages) continue;
        const options = [
          {},
          { aspectRatio: model.aspectRatios.at(-1) },
          ...(model.resolutions ? [{ resolution: model.resolutions.values.at(-1) }] : []),
          ...(model.outputFormats
            ? model.outputFormats.values.map((outputFormat) => ({ outputFormat }))
            : []),
        ];
        for (const option of options) {
          for (const nsfwChecker of [false, true]) {
            const { body } = toCreateTaskBody(
              { prompt: "p", model: model.id, imageUrls, ...option } as CreateTaskInput,
              { ...DEFAULTS, nsfwChecker, callBackUrl: "https://app.example.com/cb" },
            );
            expect(() => validateCreateTask(body), JSON.stringify(body)).not.toThrow();
          }
        }
      }
    }
  });

  it("google/nano-banana with images runs its edit model (both are the catalogue's nano-banana)", () => {
    const result = toCreateTaskBody(
      { prompt: "edit", model: "google/nano-banana", images: [URL_A] },
      DEFAULTS,
    );
    expect(result.model).toBe("google/nano-banana-edit");
    expect(result.body.input.image_urls).toEqual([URL_A]);
    expect(result.warnings).toEqual([]);
  });

  it("google/nano-banana-edit without images is a validation error", () => {
    expect(() => toCreateTaskBody({ prompt: "p", model: "google/nano-banana-edit" }, DEFAULTS)).toThrow(
      ValidationError,
    );
  });

  it("nano-banana-pro: image_input, aspect_ratio, jpeg → jpg, text or edit under one id", () => {
    const edit = toCreateTaskBody(
      { prompt: "p", model: "nano-banana-pro", images: [URL_A], aspectRatio: "4:5", outputFormat: "jpeg" },
      DEFAULTS,
    );
    expect(edit.body).toEqual({
      model: "nano-banana-pro",
      input: {
        prompt: "p",
        image_input: [URL_A],
        aspect_ratio: "4:5",
        resolution: "1K",
        output_format: "jpg",
      },
    });
    const text = toCreateTaskBody({ prompt: "p", model: "nano-banana-pro" }, DEFAULTS);
    expect(text.body).toEqual({ model: "nano-banana-pro", input: { prompt: "p", resolution: "1K" } });
  });

  it("nano-banana-2 (being retired, still served): image_input, aspect_ratio auto, png stays png", () => {
    const result = toCreateTaskBody(
      { prompt: "p", model: "nano-banana-2", imageUrls: [URL_B], aspectRatio: "auto", outputFormat: "png" },
      DEFAULTS,
    );
    expect(result.body).toEqual({
      model: "nano-banana-2",
      input: {
        prompt: "p",
        image_input: [URL_B],
        aspect_ratio: "auto",
        resolution: "1K",
        output_format: "png",
      },
    });
    expect(
      toCreateTaskBody({ prompt: "p", model: "nano-banana-2", outputFormat: "jpeg" }, DEFAULTS).body.input
        .output_format,
    ).toBe("jpg");
  });

  it("accepts randomSeed but never sends it, and says so", () => {
    const result = toCreateTaskBody({ prompt: "p", randomSeed: 1234 }, DEFAULTS);
    expect(JSON.stringify(result.body)).not.toContain("1234");
    expect(JSON.stringify(result.body)).not.toMatch(/seed/i);
    expect(result.warnings).toEqual([SEED_NOT_SENT_WARNING]);
    expect(SEED_NOT_SENT_WARNING).toMatch(/randomSeed.*not sent/);
  });

  it("uses uploaded imageUrls instead of the request's data: URIs", () => {
    const result = toCreateTaskBody(
      { prompt: "p", images: ["data:image/png;base64,AAAA"], imageUrls: [URL_A] },
      DEFAULTS,
    );
    expect(result.body.input.image_urls).toEqual([URL_A]);
  });

  it("refuses data: URIs that were not uploaded", () => {
    expect(() => toCreateTaskBody({ prompt: "p", images: ["data:image/png;base64,AAAA"] }, DEFAULTS)).toThrow(
      /uploaded first/,
    );
  });

  it("honours configured defaults, e.g. nano-banana-2 for both modes", () => {
    const options = { textModel: "nano-banana-2", editModel: "nano-banana-2" };
    expect(toCreateTaskBody({ prompt: "p" }, options).model).toBe("nano-banana-2");
    expect(toCreateTaskBody({ prompt: "p", images: [URL_A] }, options).body.input.image_input).toEqual([
      URL_A,
    ]);
  });

  it("refuses an unknown configured model and never builds a body for it", () => {
    expect(() => toCreateTaskBody({ prompt: "p" }, { textModel: "google/unknown", editModel: "x" })).toThrow(
      /not offered/,
    );
  });

  it("refuses an option the model lacks before building a body", () => {
    expect(() => toCreateTaskBody({ prompt: "p", model: "nano-banana", resolution: "2K" }, DEFAULTS)).toThrow(
      /resolution is not an option of nano-banana/,
    );
  });

  it("trims the prompt and refuses a blank one", () => {
    expect(toCreateTaskBody({ prompt: "  p  " }, DEFAULTS).body.input.prompt).toBe("p");
    const error = (() => {
      try {
        toCreateTaskBody({ prompt: "   " }, DEFAULTS);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBeUndefined();
  });
});
