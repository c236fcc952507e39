/**
 * kie-sim's own model table (sim/models.ts) against kie-api.md's createTask section and its "Other
 * Nano Banana models" table: the six models' fields, required ones, limits, defaults and prices,
 * and a refusal (code 422 naming the field) for any body KIE would refuse or silently ignore.
 */
import { describe, expect, it } from "vitest";
import { InputValidationError, SIM_MODELS, validateCreateTask } from "@/sim/models";

const URL_A = "https://tempfile.redpandaai.co/a.png";
const urls = (n: number) => Array.from({ length: n }, (_, i) => `https://x.test/${i}.png`);

function refusal(body: unknown): { code: number; message: string } {
  try {
    validateCreateTask(body);
  } catch (error) {
    if (error instanceof InputValidationError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`);
}

describe("kie-sim serves the six Nano Banana models", () => {
  it("by KIE's ids", () => {
    expect(SIM_MODELS.map((m) => m.id)).toEqual([
      "google/nano-banana",
      "google/nano-banana-edit",
      "nano-banana-pro",
      "nano-banana-2",
      "nano-banana-2-1",
      "nano-banana-2-lite",
    ]);
  });

  it.each([
    // model, input, expected normalized aspect/format/resolution, KIE credits
    ["google/nano-banana", {}, "1:1", "png", "1K", 4],
    [
      "google/nano-banana",
      { aspect_ratio: "16:9", output_format: "jpeg", nsfw_checker: true },
      "16:9",
      "jpeg",
      "1K",
      4,
    ],
    ["google/nano-banana", { image_size: "4:3" }, "4:3", "png", "1K", 4],
    ["google/nano-banana-edit", { image_urls: [URL_A], nsfw_checker: false }, "1:1", "png", "1K", 4],
    ["nano-banana-pro", {}, "1:1", "png", "1K", 18],
    [
      "nano-banana-pro",
      { image_input: urls(8), resolution: "4K", output_format: "jpg" },
      "1:1",
      "jpeg",
      "4K",
      24,
    ],
    ["nano-banana-2", {}, "auto", "jpeg", "1K", 8],
    [
      "nano-banana-2",
      { image_input: urls(14), aspect_ratio: "8:1", resolution: "2K" },
      "8:1",
      "jpeg",
      "2K",
      12,
    ],
    ["nano-banana-2-1", {}, "auto", "jpeg", "1K", 4],
    [
      "nano-banana-2-1",
      { image_input: urls(10), resolution: "4K", output_format: "png" },
      "auto",
      "png",
      "4K",
      9,
    ],
    ["nano-banana-2-lite", { aspect_ratio: "1:4" }, "1:4", "jpeg", "1K", 4],
    ["nano-banana-2-lite", { aspect_ratio: "auto", image_urls: urls(10) }, "auto", "jpeg", "1K", 4],
  ] as const)("%s %j → %s, %s, %s, %i credits", (model, input, aspect, format, resolution, credits) => {
    const { input: normalized } = validateCreateTask({ model, input: { prompt: "p", ...input } });
    expect(normalized).toMatchObject({ aspect, format, resolution, credits });
  });

  it("takes each model's prompt up to its own limit", () => {
    for (const [model, max, extra] of [
      ["google/nano-banana", 5000, {}],
      ["nano-banana-pro", 10_000, {}],
      ["nano-banana-2-1", 20_000, {}],
      ["nano-banana-2-lite", 20_000, { aspect_ratio: "1:1" }],
    ] as const) {
      expect(validateCreateTask({ model, input: { prompt: "x".repeat(max), ...extra } }).model.id).toBe(
        model,
      );
      expect(refusal({ model, input: { prompt: "x".repeat(max + 1), ...extra } }).message).toContain(
        String(max),
      );
    }
  });
});

describe("kie-sim refuses what KIE would refuse (code 422 naming the field)", () => {
  it.each([
    ["Lite without aspect_ratio (required)", "nano-banana-2-lite", {}, "input.aspect_ratio"],
    [
      "Lite with resolution",
      "nano-banana-2-lite",
      { aspect_ratio: "1:1", resolution: "1K" },
      "input.resolution",
    ],
    [
      "Lite with output_format",
      "nano-banana-2-lite",
      { aspect_ratio: "1:1", output_format: "jpg" },
      "input.output_format",
    ],
    [
      "Lite with 11 images",
      "nano-banana-2-lite",
      { aspect_ratio: "1:1", image_urls: urls(11) },
      "image_urls",
    ],
    [
      "Lite with image_input",
      "nano-banana-2-lite",
      { aspect_ratio: "1:1", image_input: [URL_A] },
      "input.image_input",
    ],
    ["2.1 with 11 images", "nano-banana-2-1", { image_input: urls(11) }, "image_input"],
    ["2.1 with google_search", "nano-banana-2-1", { google_search: true }, "input.google_search"],
    ["2 with google_search", "nano-banana-2", { google_search: false }, "input.google_search"],
    ["2.1 with jpeg (it spells jpg)", "nano-banana-2-1", { output_format: "jpeg" }, "output_format"],
    ["2.1 with a 5K resolution", "nano-banana-2-1", { resolution: "5K" }, "resolution"],
    [
      "nano-banana with jpg (it spells jpeg)",
      "google/nano-banana",
      { output_format: "jpg" },
      "output_format",
    ],
    ["nano-banana with a tall ratio", "google/nano-banana", { aspect_ratio: "1:8" }, "aspect_ratio"],
    [
      "nano-banana with nsfw_checker as a string",
      "google/nano-banana",
      { nsfw_checker: "yes" },
      "nsfw_checker",
    ],
    ["Pro with nsfw_checker", "nano-banana-pro", { nsfw_checker: true }, "input.nsfw_checker"],
    ["nano-banana with a seed", "google/nano-banana", { seed: 1 }, "input.seed"],
    ["edit with 11 images", "google/nano-banana-edit", { image_urls: urls(11) }, "image_urls"],
  ])("%s", (_name, model, input, field) => {
    const answer = refusal({ model, input: { prompt: "p", ...input } });
    expect(answer.code).toBe(422);
    expect(answer.message).toContain(field);
  });

  it("an unknown top-level field", () => {
    expect(refusal({ model: "nano-banana-2-1", input: { prompt: "p" }, webhook: "x" })).toEqual({
      code: 422,
      message: expect.stringContaining("webhook"),
    });
  });
});
