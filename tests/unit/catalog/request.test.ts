import { describe, expect, it } from "vitest";
import { CATALOG_MODEL_IDS, imageGenerationSchema, lookupModel, MODEL_IDS } from "@/lib/catalog";

const PNG = "data:image/png;base64,iVBORw0KGgo=";

function issues(body: unknown) {
  const result = imageGenerationSchema.safeParse(body);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("model ids", () => {
  it("offers the five catalogue models (six KIE models), and still takes KIE's ids for nano-banana", () => {
    expect(CATALOG_MODEL_IDS).toEqual([
      "nano-banana",
      "nano-banana-pro",
      "nano-banana-2-1",
      "nano-banana-2",
      "nano-banana-2-lite",
    ]);
    expect(MODEL_IDS).toEqual([
      "nano-banana",
      "nano-banana-pro",
      "nano-banana-2-1",
      "nano-banana-2",
      "nano-banana-2-lite",
      "google/nano-banana",
      "google/nano-banana-edit",
    ]);
  });

  it("looks a model up by its id or a KIE id, and nothing else", () => {
    expect(lookupModel("google/nano-banana")).toMatchObject({
      model: { id: "nano-banana" },
      requiresImages: false,
    });
    expect(lookupModel("google/nano-banana-edit")).toMatchObject({
      model: { id: "nano-banana" },
      requiresImages: true,
    });
    expect(lookupModel("nano-banana-pro")?.requiresImages).toBe(false);
    expect(lookupModel("toString")).toBeUndefined();
    expect(lookupModel("google/veo")).toBeUndefined();
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
    ["an unknown aspect ratio", { prompt: "p", aspectRatio: "1:3" }, "aspectRatio"],
    ["1:4 on nano-banana-pro", { prompt: "p", model: "nano-banana-pro", aspectRatio: "1:4" }, "aspectRatio"],
    ["resolution on nano-banana", { prompt: "p", model: "nano-banana", resolution: "2K" }, "resolution"],
    ["resolution 8K", { prompt: "p", model: "nano-banana-pro", resolution: "8K" }, "resolution"],
    [
      "googleSearch on nano-banana-pro",
      { prompt: "p", model: "nano-banana-pro", googleSearch: true },
      "googleSearch",
    ],
    [
      "googleSearch on nano-banana-2 (no longer in KIE's schema)",
      { prompt: "p", model: "nano-banana-2", googleSearch: false },
      "googleSearch",
    ],
    ["googleSearch as a string", { prompt: "p", googleSearch: "yes" }, "googleSearch"],
    ["resolution on Lite", { prompt: "p", model: "nano-banana-2-lite", resolution: "1K" }, "resolution"],
    [
      "outputFormat on Lite",
      { prompt: "p", model: "nano-banana-2-lite", outputFormat: "png" },
      "outputFormat",
    ],
    [
      "11 ratios only on nano-banana",
      { prompt: "p", model: "google/nano-banana", aspectRatio: "4:1" },
      "aspectRatio",
    ],
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
      "nano-banana, nano-banana-pro, nano-banana-2-1, nano-banana-2, nano-banana-2-lite, google/nano-banana, google/nano-banana-edit",
    );
    expect(issues({ prompt: "p", model: "google/nano-banana", resolution: "4K" })).toEqual([
      "resolution: resolution is not an option of nano-banana; nano-banana-pro, nano-banana-2-1 and nano-banana-2 have it",
    ]);
  });

  it("lets text-capable models run with or without images", () => {
    for (const model of [
      "nano-banana",
      "google/nano-banana",
      "nano-banana-pro",
      "nano-banana-2",
      "nano-banana-2-1",
      "nano-banana-2-lite",
    ]) {
      expect(issues({ prompt: "p", model })).toEqual([]);
      expect(issues({ prompt: "p", model, images: [PNG] })).toEqual([]);
    }
  });

  it("accepts each model's own options", () => {
    expect(issues({ prompt: "p", model: "nano-banana-pro", resolution: "4K", aspectRatio: "21:9" })).toEqual(
      [],
    );
    expect(
      issues({
        prompt: "p",
        model: "nano-banana-2",
        resolution: "2K",
        outputFormat: "jpeg",
        aspectRatio: "8:1",
      }),
    ).toEqual([]);
    expect(issues({ prompt: "p", model: "nano-banana-2-1", resolution: "4K", aspectRatio: "1:8" })).toEqual(
      [],
    );
    expect(issues({ prompt: "p", model: "nano-banana-2-lite", aspectRatio: "4:1" })).toEqual([]);
  });
});
