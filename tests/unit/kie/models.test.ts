import { describe, expect, it } from "vitest";
import { getModelSpec, imageGenerationSchema, KIE_MODELS, OFFERED_MODEL_IDS } from "@/lib/kie/models";

const PNG = "data:image/png;base64,iVBORw0KGgo=";

function issues(body: unknown) {
  const result = imageGenerationSchema.safeParse(body);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("model table", () => {
  it("offers exactly the four Nano Banana models", () => {
    expect(OFFERED_MODEL_IDS).toEqual([
      "google/nano-banana",
      "google/nano-banana-edit",
      "nano-banana-pro",
      "nano-banana-2",
    ]);
  });

  it("records each model's field names", () => {
    expect(getModelSpec("google/nano-banana")?.aspect.field).toBe("image_size");
    expect(getModelSpec("google/nano-banana-edit")?.images?.field).toBe("image_urls");
    expect(getModelSpec("nano-banana-pro")?.images?.field).toBe("image_input");
    expect(getModelSpec("nano-banana-2")?.aspect.field).toBe("aspect_ratio");
    expect(KIE_MODELS["nano-banana-2"].aspect.values).toContain("8:1");
    expect(getModelSpec("toString")).toBeUndefined();
    expect(getModelSpec("google/veo")).toBeUndefined();
  });
});

describe("imageGenerationSchema", () => {
  it("accepts a minimal request and trims the prompt", () => {
    expect(imageGenerationSchema.parse({ prompt: "  a banana  " })).toEqual({ prompt: "a banana" });
  });

  it("accepts every documented field", () => {
    const body = {
      prompt: "a banana",
      model: "google/nano-banana-edit",
      aspectRatio: "21:9",
      randomSeed: -42,
      outputFormat: "jpeg",
      images: [
        "https://cdn.example.com/a.png",
        PNG,
        "data:image/webp;base64,UklGRg==",
        "data:image/jpeg;base64,/9j/",
      ],
    };
    expect(imageGenerationSchema.parse(body)).toEqual(body);
  });

  it("accepts a 5000-character prompt and 5 images", () => {
    expect(issues({ prompt: "x".repeat(5000), images: Array(5).fill(PNG) })).toEqual([]);
  });

  it.each([
    ["a blank prompt", { prompt: "   \n " }, "prompt"],
    ["a missing prompt", {}, "prompt"],
    ["a 5001-character prompt", { prompt: "x".repeat(5001) }, "prompt"],
    ["6 images", { prompt: "p", images: Array(6).fill(PNG) }, "images"],
    ["an http:// image URL", { prompt: "p", images: ["http://example.com/a.png"] }, "images.0"],
    ["a malformed https URL", { prompt: "p", images: ["https:/example.com/a.png"] }, "images.0"],
    ["a javascript: URI", { prompt: "p", images: ["javascript:alert(1)"] }, "images.0"],
    ["an unknown model", { prompt: "p", model: "google/imagen-4" }, "model"],
    ["a non-integer seed", { prompt: "p", randomSeed: 1.5 }, "randomSeed"],
    ["a string seed", { prompt: "p", randomSeed: "7" }, "randomSeed"],
    ["an unknown aspect ratio", { prompt: "p", aspectRatio: "1:4" }, "aspectRatio"],
    ["output format jpg", { prompt: "p", outputFormat: "jpg" }, "outputFormat"],
    ["the edit model without images", { prompt: "p", model: "google/nano-banana-edit" }, "model"],
    [
      "the edit model with an empty image list",
      { prompt: "p", model: "google/nano-banana-edit", images: [] },
      "model",
    ],
    ["an unknown key", { prompt: "p", aspect_ratio: "1:1" }, ""],
  ])("rejects %s", (_name, body, path) => {
    const found = issues(body);
    expect(found.length).toBeGreaterThan(0);
    expect(found.some((issue) => issue.startsWith(`${path}:`))).toBe(true);
  });

  it("leaves a data: URI's bytes to lib/security (which answers 415 for a gif, 400 for bad base64)", () => {
    expect(issues({ prompt: "p", images: ["data:image/gif;base64,R0lGOD=="] })).toEqual([]);
  });

  it("gives messages a caller can act on", () => {
    expect(issues({ prompt: " " })).toEqual(["prompt: prompt must not be blank"]);
    expect(issues({ prompt: "p", model: "nope" })[0]).toContain(
      "google/nano-banana, google/nano-banana-edit",
    );
  });

  it("lets text-capable models run with or without images", () => {
    for (const model of ["google/nano-banana", "nano-banana-pro", "nano-banana-2"]) {
      expect(issues({ prompt: "p", model })).toEqual([]);
      expect(issues({ prompt: "p", model, images: [PNG] })).toEqual([]);
    }
  });
});
