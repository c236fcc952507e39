/**
 * The studio's options follow the model (issue 26): a model starts on its own defaults from GET
 * /api/models (Pro on 1:1 and PNG, 2.1 on auto and JPEG, Lite with no format at all), and a choice
 * the person made survives a model switch where the new model offers it.
 */
import { describe, expect, it } from "vitest";
import { publicCatalog } from "@/lib/catalog";
import { optionsForModel } from "@/lib/ui/modelOptions";
import type { StudioModel } from "@/lib/ui/types";

const models = publicCatalog({ perGeneration: 1, byModel: {} }, 10 * 1024 * 1024) satisfies StudioModel[];
const byId = (id: string) => {
  const model = models.find((m) => m.id === id);
  if (!model) throw new Error(`no ${id}`);
  return model;
};

describe("optionsForModel", () => {
  it("starts each model on its own defaults, not 'auto' where it has a real one", () => {
    expect(optionsForModel(byId("nano-banana"), {})).toEqual({
      model: "nano-banana",
      aspectRatio: "1:1",
      outputFormat: "png",
    });
    expect(optionsForModel(byId("nano-banana-pro"), {})).toEqual({
      model: "nano-banana-pro",
      aspectRatio: "1:1",
      outputFormat: "png",
      resolution: "1K",
    });
    expect(optionsForModel(byId("nano-banana-2-1"), {})).toEqual({
      model: "nano-banana-2-1",
      aspectRatio: "auto",
      outputFormat: "jpeg",
      resolution: "1K",
    });
    expect(optionsForModel(byId("nano-banana-2-lite"), {})).toEqual({
      model: "nano-banana-2-lite",
      aspectRatio: "1:1",
    });
  });

  it("moves an untouched default to the new model's default, and keeps a real choice it offers", () => {
    const two = optionsForModel(byId("nano-banana-2-1"), {});
    expect(optionsForModel(byId("nano-banana-pro"), two, byId("nano-banana-2-1"))).toMatchObject({
      aspectRatio: "1:1",
      outputFormat: "png",
    });
    const chosen = { ...two, aspectRatio: "16:9", outputFormat: "png", resolution: "4K" };
    expect(optionsForModel(byId("nano-banana-pro"), chosen, byId("nano-banana-2-1"))).toMatchObject({
      aspectRatio: "16:9",
      outputFormat: "png",
      resolution: "4K",
    });
    // Lite has no format (none is sent) and no resolution; an extreme ratio Pro lacks falls back.
    const tall = { ...two, aspectRatio: "1:8" };
    expect(optionsForModel(byId("nano-banana-2-lite"), tall, byId("nano-banana-2-1"))).toEqual({
      model: "nano-banana-2-lite",
      aspectRatio: "1:8",
    });
    expect(optionsForModel(byId("nano-banana-pro"), tall, byId("nano-banana-2-1")).aspectRatio).toBe("1:1");
  });

  it("never offers Google Search grounding: no model documents it", () => {
    for (const model of models)
      expect(optionsForModel(model, { googleSearch: true }).googleSearch).toBeUndefined();
  });
});
