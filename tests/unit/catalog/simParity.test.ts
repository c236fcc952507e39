/**
 * kie-sim keeps its own model table (sim/ must not import lib/). This checks the two agree on
 * what KIE documents, so a catalogue entry the simulator cannot serve fails here, not in a demo.
 */
import { describe, expect, it } from "vitest";
import { CATALOG } from "@/lib/catalog";
import { findModel } from "@/sim/models";

describe("the catalogue and kie-sim agree", () => {
  for (const model of CATALOG) {
    for (const [kind, kieId] of [
      ["text", model.kie.textModel],
      ["edit", model.kie.editModel],
    ] as const) {
      it(`${model.id} (${kind}: ${kieId})`, () => {
        const sim = findModel(kieId);
        expect(sim, `kie-sim does not serve ${kieId}`).toBeDefined();
        if (!sim) return;
        expect(sim.aspectField).toBe(model.kie.aspectField);
        expect([...sim.aspectValues].sort()).toEqual([...model.aspectRatios].sort());
        expect([...sim.outputFormats].sort()).toEqual(Object.values(model.kie.outputFormat).sort());
        expect(sim.promptMax).toBe(model.kie.promptMaxChars);
        expect(sim.resolutions ?? []).toEqual(model.resolutions?.values ?? []);
        expect(sim.booleanFields).toEqual(model.kie.googleSearchField ? [model.kie.googleSearchField] : []);
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
