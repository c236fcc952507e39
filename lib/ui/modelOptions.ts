/** The studio's model-dependent options, and what they become when another model is picked. */
import type { StudioModel } from "./types";

export interface GenerationOptionsValue {
  model: string;
  aspectRatio: string;
  /** Set only while the model has a format choice (Lite has none). */
  outputFormat?: string;
  /** Set only while the model has resolutions. */
  resolution?: string;
  /** Set only while the model offers Google Search grounding. */
  googleSearch?: boolean;
  /** "Images": how many variations one Generate makes (1–4, `n`); any model. */
  count?: number;
}

/** The "Images" choices (DESIGN.md §3 `n`). */
export const IMAGE_COUNTS = ["1", "2", "3", "4"] as const;

/**
 * The options a newly picked model starts with: the ones the person chose where it has them, else
 * its own defaults (an option still at the old model's default follows the new model's default:
 * "auto" on Nano Banana 2 is not a choice made for Pro, whose default is 1:1).
 */
export function optionsForModel(
  model: StudioModel,
  previous: Partial<GenerationOptionsValue>,
  previousModel?: StudioModel,
): GenerationOptionsValue {
  const { aspectRatios, outputFormats, resolutions, defaultResolution, googleSearch } = model.options;
  const kept = (
    value: string | undefined,
    oldDefault: string | null | undefined,
    allowed: readonly string[],
  ) => (value !== undefined && value !== oldDefault && allowed.includes(value) ? value : undefined);
  const defaults = previousModel?.defaults;
  return {
    model: model.id,
    aspectRatio:
      kept(previous.aspectRatio, defaults?.aspectRatio, aspectRatios) ?? model.defaults.aspectRatio,
    outputFormat:
      outputFormats.length === 0
        ? undefined
        : (kept(previous.outputFormat, defaults?.outputFormat, outputFormats) ??
          model.defaults.outputFormat ??
          outputFormats[0]),
    resolution: resolutions
      ? (resolutions.find((resolution) => resolution === previous.resolution) ?? defaultResolution)
      : undefined,
    googleSearch: googleSearch ? (previous.googleSearch ?? false) : undefined,
    count: previous.count,
  };
}
