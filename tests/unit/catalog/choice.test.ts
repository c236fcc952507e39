import { describe, expect, it } from "vitest";
import { ZodError } from "zod";
import {
  CATALOG,
  chooseModel,
  modelPrices,
  parseModelCredits,
  priceOf,
  resolveModelChoice,
} from "@/lib/catalog";

const DEFAULTS = { textModel: "google/nano-banana", editModel: "google/nano-banana-edit" };

describe("resolveModelChoice", () => {
  it("runs a request without a model on the configured text or edit model", () => {
    expect(resolveModelChoice({}, 0, DEFAULTS)).toMatchObject({
      ok: true,
      choice: { model: { id: "nano-banana" }, kieModel: "google/nano-banana", resolution: undefined },
    });
    expect(resolveModelChoice({}, 2, DEFAULTS)).toMatchObject({
      ok: true,
      choice: { model: { id: "nano-banana" }, kieModel: "google/nano-banana-edit" },
    });
  });

  it("picks each catalogue model's KIE model for text and for edits", () => {
    for (const model of CATALOG) {
      const text = chooseModel({ model: model.id }, 0, DEFAULTS);
      const edit = chooseModel({ model: model.id }, 1, DEFAULTS);
      expect(text.kieModel).toBe(model.kie.textModel);
      expect(edit.kieModel).toBe(model.kie.editModel);
    }
  });

  it("gives models with resolutions their default, and keeps the requested one", () => {
    expect(chooseModel({ model: "nano-banana-pro" }, 0, DEFAULTS).resolution).toBe("1K");
    expect(chooseModel({ model: "nano-banana-2", resolution: "4K" }, 0, DEFAULTS).resolution).toBe("4K");
  });

  it("refuses an option the default model lacks, saying it is the default", () => {
    const result = resolveModelChoice({ resolution: "4K", googleSearch: true }, 0, DEFAULTS);
    expect(result).toEqual({
      ok: false,
      issues: [
        {
          field: "resolution",
          message:
            "resolution is not an option of nano-banana (the default model); nano-banana-pro and nano-banana-2 have it",
        },
        {
          field: "googleSearch",
          message: "googleSearch is not an option of nano-banana (the default model); nano-banana-2 has it",
        },
      ],
    });
  });

  it("refuses googleSearch even when false on a model without it (the option does not exist there)", () => {
    expect(resolveModelChoice({ model: "nano-banana-pro", googleSearch: false }, 0, DEFAULTS).ok).toBe(false);
    expect(resolveModelChoice({ model: "nano-banana-2", googleSearch: false }, 0, DEFAULTS).ok).toBe(true);
  });

  it("takes the tall and wide ratios only on nano-banana-2", () => {
    expect(resolveModelChoice({ model: "nano-banana-2", aspectRatio: "1:8" }, 0, DEFAULTS).ok).toBe(true);
    expect(resolveModelChoice({ model: "nano-banana", aspectRatio: "1:8" }, 0, DEFAULTS)).toMatchObject({
      ok: false,
      issues: [{ field: "aspectRatio" }],
    });
  });

  it("needs an image for the KIE edit model id", () => {
    expect(resolveModelChoice({ model: "google/nano-banana-edit" }, 0, DEFAULTS)).toMatchObject({
      ok: false,
      issues: [{ field: "model", message: "google/nano-banana-edit needs at least one image" }],
    });
  });

  it("chooseModel throws a ZodError whose issue path names the field", () => {
    const error = (() => {
      try {
        chooseModel({ model: "nano-banana", resolution: "2K" }, 0, DEFAULTS);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ZodError);
    expect((error as ZodError).issues.map((i) => i.path)).toEqual([["resolution"]]);
  });
});

describe("prices", () => {
  const prices = {
    perGeneration: 1,
    byModel: { "nano-banana": 1, "nano-banana-pro": 4, "nano-banana-pro:4K": 8 },
  };
  const pro = CATALOG.find((m) => m.id === "nano-banana-pro");
  const two = CATALOG.find((m) => m.id === "nano-banana-2");

  it("prices by model and resolution, then model, then CREDITS_PER_GENERATION", () => {
    if (!pro || !two) throw new Error("catalogue changed");
    expect(priceOf(prices, { model: pro, resolution: "4K" })).toBe(8);
    expect(priceOf(prices, { model: pro, resolution: "2K" })).toBe(4);
    expect(priceOf(prices, { model: two, resolution: "4K" })).toBe(1);
    expect(priceOf({ perGeneration: 3, byModel: {} }, chooseModel({}, 0, DEFAULTS))).toBe(3);
  });

  it("lists a model's prices per resolution", () => {
    if (!pro) throw new Error("catalogue changed");
    expect(modelPrices(prices, pro)).toEqual({ default: 4, byResolution: { "1K": 4, "2K": 4, "4K": 8 } });
    expect(modelPrices(prices, CATALOG[0] as (typeof CATALOG)[number])).toEqual({ default: 1 });
  });

  it("parses MODEL_CREDITS and refuses typos, unknown models and resolutions a model lacks", () => {
    expect(parseModelCredits("nano-banana=1, nano-banana-pro=4,nano-banana-pro:4K=8")).toEqual({
      credits: { "nano-banana": 1, "nano-banana-pro": 4, "nano-banana-pro:4K": 8 },
    });
    expect(parseModelCredits("")).toEqual({ credits: {} });
    for (const bad of [
      "nano-banana",
      "nano-banana=-1",
      "nano-banana=1.5",
      "nano-bananna=2",
      "nano-banana:4K=2",
    ]) {
      expect(parseModelCredits(bad)).toHaveProperty("problem");
    }
    expect(parseModelCredits("nano-banana=1,nano-banana=2")).toEqual({
      problem: 'names "nano-banana" twice',
    });
  });
});
