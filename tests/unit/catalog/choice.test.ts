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
    expect(chooseModel({ model: "nano-banana-2-1" }, 0, DEFAULTS).resolution).toBe("1K");
    expect(chooseModel({ model: "nano-banana-2-lite" }, 0, DEFAULTS).resolution).toBeUndefined();
  });

  it("sends a ratio only when asked, except to Lite, which KIE gives its default when none is asked", () => {
    expect(chooseModel({ model: "nano-banana-2-lite" }, 0, DEFAULTS).aspectRatio).toBe("1:1");
    expect(chooseModel({ model: "nano-banana-2-lite", aspectRatio: "8:1" }, 1, DEFAULTS).aspectRatio).toBe(
      "8:1",
    );
    for (const model of ["nano-banana", "nano-banana-pro", "nano-banana-2", "nano-banana-2-1"]) {
      expect(chooseModel({ model }, 0, DEFAULTS).aspectRatio).toBeUndefined();
      expect(chooseModel({ model, aspectRatio: "3:2" }, 0, DEFAULTS).aspectRatio).toBe("3:2");
    }
  });

  it("refuses resolution and outputFormat on Lite, naming each", () => {
    expect(
      resolveModelChoice({ model: "nano-banana-2-lite", resolution: "1K", outputFormat: "png" }, 0, DEFAULTS),
    ).toEqual({
      ok: false,
      issues: [
        {
          field: "resolution",
          message:
            "resolution is not an option of nano-banana-2-lite; nano-banana-pro, nano-banana-2-1 and nano-banana-2 have it",
        },
        {
          field: "outputFormat",
          message: "outputFormat is not an option of nano-banana-2-lite; KIE picks its format",
        },
      ],
    });
  });

  it("refuses an option the default model lacks, saying it is the default", () => {
    const result = resolveModelChoice({ resolution: "4K", googleSearch: true }, 0, DEFAULTS);
    expect(result).toEqual({
      ok: false,
      issues: [
        {
          field: "resolution",
          message:
            "resolution is not an option of nano-banana (the default model); nano-banana-pro, nano-banana-2-1 and nano-banana-2 have it",
        },
        {
          field: "googleSearch",
          message: "googleSearch is not an option of nano-banana (the default model); no model offers it",
        },
      ],
    });
  });

  it("refuses googleSearch, even false, on every model: KIE dropped google_search from nano-banana-2", () => {
    for (const model of CATALOG) {
      expect(resolveModelChoice({ model: model.id, googleSearch: false }, 0, DEFAULTS)).toMatchObject({
        ok: false,
        issues: [{ field: "googleSearch" }],
      });
    }
  });

  it("takes the tall and wide ratios only on nano-banana-2, 2.1 and Lite", () => {
    for (const model of ["nano-banana-2", "nano-banana-2-1", "nano-banana-2-lite"]) {
      expect(resolveModelChoice({ model, aspectRatio: "1:8" }, 0, DEFAULTS).ok).toBe(true);
    }
    expect(resolveModelChoice({ model: "nano-banana-pro", aspectRatio: "8:1" }, 0, DEFAULTS).ok).toBe(false);
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

  it("prices by model and resolution, then model, then KIE's cost in proportion", () => {
    if (!pro || !two) throw new Error("catalogue changed");
    expect(priceOf(prices, { model: pro, resolution: "4K" })).toBe(8);
    expect(priceOf(prices, { model: pro, resolution: "2K" })).toBe(4);
    // Not named: NB2 at 4K costs KIE 18 credits, 4.5× its cheapest image (4), rounded up.
    expect(priceOf(prices, { model: two, resolution: "4K" })).toBe(5);
    expect(priceOf({ perGeneration: 3, byModel: {} }, chooseModel({}, 0, DEFAULTS))).toBe(3);
  });

  it("by default, prices every model in proportion to KIE's cost, CREDITS_PER_GENERATION buying the cheapest", () => {
    const table = (perGeneration: number) =>
      Object.fromEntries(CATALOG.map((m) => [m.id, modelPrices({ perGeneration, byModel: {} }, m)]));
    // KIE credits: nano-banana 4; Pro 18/18/24; 2.1 4/6/9; 2 8/12/18; Lite unpublished (taken as 4).
    expect(table(4)).toEqual({
      "nano-banana": { default: 4 },
      "nano-banana-pro": { default: 18, byResolution: { "1K": 18, "2K": 18, "4K": 24 } },
      "nano-banana-2-1": { default: 4, byResolution: { "1K": 4, "2K": 6, "4K": 9 } },
      "nano-banana-2": { default: 8, byResolution: { "1K": 8, "2K": 12, "4K": 18 } },
      "nano-banana-2-lite": { default: 4 },
    });
    expect(table(1)).toEqual({
      "nano-banana": { default: 1 },
      "nano-banana-pro": { default: 5, byResolution: { "1K": 5, "2K": 5, "4K": 6 } },
      "nano-banana-2-1": { default: 1, byResolution: { "1K": 1, "2K": 2, "4K": 3 } },
      "nano-banana-2": { default: 2, byResolution: { "1K": 2, "2K": 3, "4K": 5 } },
      "nano-banana-2-lite": { default: 1 },
    });
    // Free stays free.
    expect(Object.values(table(0)).map((p) => p.default)).toEqual([0, 0, 0, 0, 0]);
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
