/**
 * kie-sim keeps its own model table (sim/ must not import lib/). This checks the two agree on
 * what KIE documents, so a catalogue entry the simulator cannot serve fails here, not in a demo.
 */
import { describe, expect, it } from "vitest";
import { CATALOG, RESOLUTIONS } from "@/lib/catalog";
import { findModel, SIM_MODELS } from "@/sim/models";

describe("the catalogue and kie-sim agree", () => {
  it("on the six KIE models", () => {
    const kieIds = new Set(CATALOG.flatMap((m) => [m.kie.textModel, m.kie.editModel]));
    expect([...kieIds].sort()).toEqual(SIM_MODELS.map((m) => m.id).sort());
  });

  for (const model of CATALOG) {
    for (const [kind, kieId] of [
      ["text", model.kie.textModel],
      ["edit", model.kie.editModel],
    ] as const) {
      it(`${model.id} (${kind}: ${kieId})`, () => {
        const sim = findModel(kieId);
        expect(sim, `kie-sim does not serve ${kieId}`).toBeDefined();
        if (!sim) return;
        expect(sim.aspect.field).toBe(model.kie.aspectField);
        expect([...sim.aspect.values].sort()).toEqual([...model.aspectRatios].sort());
        // A required ratio has no default at KIE: the catalogue's is what the mapper sends.
        expect(sim.aspect.default).toBe(model.aspectRatioRequired ? undefined : model.defaultAspectRatio);
        const formats = model.kie.outputFormat;
        expect([...(sim.outputFormat?.values ?? [])].sort()).toEqual(Object.values(formats ?? {}).sort());
        expect(sim.outputFormat?.default).toBe(
          model.outputFormats && formats ? formats[model.outputFormats.default] : undefined,
        );
        expect(sim.promptMax).toBe(model.kie.promptMaxChars);
        expect(sim.resolutions ?? []).toEqual(model.resolutions?.values ?? []);
        if (model.resolutions) expect(sim.resolutions?.[0]).toBe(model.resolutions.default);
        expect([...sim.booleanFields].sort()).toEqual(
          [model.kie.nsfwCheckerField, model.kie.googleSearchField].filter(Boolean).sort(),
        );
        for (const resolution of model.resolutions ? RESOLUTIONS : (["1K"] as const)) {
          const cost = model.kie.cost.byResolution?.[resolution] ?? model.kie.cost.default;
          expect(sim.credits(resolution), `${kieId} at ${resolution}`).toBe(cost);
        }
        if (kind === "edit") {
          expect(sim.images).toMatchObject({
            field: model.kie.images.field,
            max: model.kie.images.max,
            maxBytes: model.kie.images.maxBytes,
          });
        } else if (model.kie.textModel !== model.kie.editModel) {
          expect(sim.images).toBeUndefined();
        }
      });
    }
  }
});
