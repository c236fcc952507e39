/**
 * The Nano Banana family as this product offers it: one entry per model (kie-api.md, "Other Nano
 * Banana models"). Request validation, the KIE mapper (lib/kie/createTask.ts), prices, GET /api/models
 * and the studio's model picker all read this table. Adding a model is one entry here (and one
 * snapshot test of its createTask body). No imports: every layer may depend on this module.
 */

export const BASE_ASPECT_RATIOS = [
  "auto",
  "1:1",
  "2:3",
  "3:2",
  "3:4",
  "4:3",
  "4:5",
  "5:4",
  "9:16",
  "16:9",
  "21:9",
] as const;
const TALL_AND_WIDE_RATIOS = ["1:4", "4:1", "1:8", "8:1"] as const;
/** Every ratio some model takes; each model lists its own in `aspectRatios`. */
export const ASPECT_RATIOS = [...BASE_ASPECT_RATIOS, ...TALL_AND_WIDE_RATIOS] as const;
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

export const RESOLUTIONS = ["1K", "2K", "4K"] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

/** Output formats our public API accepts; each model spells `jpeg` its own way at KIE. */
export const OUTPUT_FORMATS = ["png", "jpeg"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Images per request this product allows, whatever the model would take (KIE: 10 to 14). */
export const MAX_IMAGES_PER_REQUEST = 5;
/** Prompt length this product allows, whatever the model would take (KIE: 5000 to 20000). */
export const MAX_PROMPT_CHARS = 5000;

/** How KIE spells a model's inputs, and KIE's own limits for it. */
export interface KieModelFields {
  /** KIE model used without input images. */
  textModel: string;
  /** KIE model used with input images (the same id for models that do both). */
  editModel: string;
  promptMaxChars: number;
  images: { field: "image_urls" | "image_input"; max: number; maxBytes: number };
  /** Every model takes `aspect_ratio` now (google/nano-banana's `image_size` is deprecated at KIE). */
  aspectField: "aspect_ratio";
  /** Our output format → KIE's spelling for this model; absent: KIE has no `output_format` for it. */
  outputFormat?: Readonly<Record<OutputFormat, string>>;
  /** Present when the model takes `resolution`. */
  resolutionField?: "resolution";
  /** Present when KIE documents a content checker switch for the model (KIE_NSFW_CHECKER). */
  nsfwCheckerField?: "nsfw_checker";
  /** Present when the model can ground its image in Google Search (no current model documents it). */
  googleSearchField?: "google_search";
  /**
   * KIE credits per image (kie-api.md, as quoted by third parties; `creditsConsumed` on each job
   * says what KIE really charged). The default prices are proportional to these.
   */
  cost: { default: number; byResolution?: Readonly<Partial<Record<Resolution, number>>> };
}

export interface CatalogModel {
  /** Public id (`model` in POST /api/generate). */
  id: string;
  label: string;
  description: string;
  aspectRatios: readonly AspectRatio[];
  /**
   * The ratio an image gets when the request names none. With `aspectRatioRequired` it is sent
   * (KIE refuses a body without one); otherwise it is KIE's own default and nothing is sent.
   */
  defaultAspectRatio: AspectRatio;
  aspectRatioRequired: boolean;
  /** Absent: the model has no resolution choice (and `resolution` in a request is a 400). */
  resolutions?: { values: readonly Resolution[]; default: Resolution };
  /** Absent: the model has no output format choice (and `outputFormat` in a request is a 400). */
  outputFormats?: { values: readonly OutputFormat[]; default: OutputFormat };
  /** Whether `googleSearch` may be sent. */
  googleSearch: boolean;
  /** Still served, but on its way out upstream: the studio offers the successor first. */
  deprecated?: { successor: string; reason: string };
  kie: KieModelFields;
}

const MB = 1024 * 1024;

export const CATALOG: readonly CatalogModel[] = [
  {
    id: "nano-banana",
    label: "Nano Banana",
    description: "Gemini 2.5 Flash Image: fast and cheap, for drafts and quick edits.",
    aspectRatios: BASE_ASPECT_RATIOS,
    defaultAspectRatio: "1:1",
    aspectRatioRequired: false,
    outputFormats: { values: OUTPUT_FORMATS, default: "png" },
    googleSearch: false,
    kie: {
      textModel: "google/nano-banana",
      editModel: "google/nano-banana-edit",
      promptMaxChars: 5000,
      images: { field: "image_urls", max: 10, maxBytes: 10 * MB },
      aspectField: "aspect_ratio",
      outputFormat: { png: "png", jpeg: "jpeg" },
      nsfwCheckerField: "nsfw_checker",
      cost: { default: 4 },
    },
  },
  {
    id: "nano-banana-pro",
    label: "Nano Banana Pro",
    description: "Gemini 3 Pro Image: the best quality and text rendering, up to 4K.",
    aspectRatios: BASE_ASPECT_RATIOS,
    defaultAspectRatio: "1:1",
    aspectRatioRequired: false,
    resolutions: { values: RESOLUTIONS, default: "1K" },
    outputFormats: { values: OUTPUT_FORMATS, default: "png" },
    googleSearch: false,
    kie: {
      textModel: "nano-banana-pro",
      editModel: "nano-banana-pro",
      promptMaxChars: 10_000,
      images: { field: "image_input", max: 8, maxBytes: 30 * MB },
      aspectField: "aspect_ratio",
      outputFormat: { png: "png", jpeg: "jpg" },
      resolutionField: "resolution",
      cost: { default: 18, byResolution: { "1K": 18, "2K": 18, "4K": 24 } },
    },
  },
  {
    id: "nano-banana-2-1",
    label: "Nano Banana 2.1",
    description: "Fast and cheap, up to 4K, extra-tall and extra-wide ratios; Nano Banana 2's successor.",
    aspectRatios: ASPECT_RATIOS,
    defaultAspectRatio: "auto",
    aspectRatioRequired: false,
    resolutions: { values: RESOLUTIONS, default: "1K" },
    outputFormats: { values: OUTPUT_FORMATS, default: "jpeg" },
    googleSearch: false,
    kie: {
      textModel: "nano-banana-2-1",
      editModel: "nano-banana-2-1",
      promptMaxChars: 20_000,
      // KIE's page says 10 in its prose and 14 in its schema: the lower one is safe.
      images: { field: "image_input", max: 10, maxBytes: 30 * MB },
      aspectField: "aspect_ratio",
      outputFormat: { png: "png", jpeg: "jpg" },
      resolutionField: "resolution",
      cost: { default: 4, byResolution: { "1K": 4, "2K": 6, "4K": 9 } },
    },
  },
  {
    id: "nano-banana-2",
    label: "Nano Banana 2",
    description: "Fast, up to 4K, extra-tall and extra-wide ratios. Being retired: use Nano Banana 2.1.",
    aspectRatios: ASPECT_RATIOS,
    defaultAspectRatio: "auto",
    aspectRatioRequired: false,
    resolutions: { values: RESOLUTIONS, default: "1K" },
    outputFormats: { values: OUTPUT_FORMATS, default: "jpeg" },
    googleSearch: false,
    deprecated: {
      successor: "nano-banana-2-1",
      reason:
        "Google is shutting down the model behind it (gemini-3.1-flash-image); Nano Banana 2.1 replaces it.",
    },
    kie: {
      textModel: "nano-banana-2",
      editModel: "nano-banana-2",
      promptMaxChars: 20_000,
      images: { field: "image_input", max: 14, maxBytes: 30 * MB },
      aspectField: "aspect_ratio",
      outputFormat: { png: "png", jpeg: "jpg" },
      resolutionField: "resolution",
      cost: { default: 8, byResolution: { "1K": 8, "2K": 12, "4K": 18 } },
    },
  },
  {
    id: "nano-banana-2-lite",
    label: "Nano Banana 2 Lite",
    description: "The lightest Nano Banana: 1K only, extra-tall and extra-wide ratios.",
    aspectRatios: ASPECT_RATIOS,
    // KIE requires a ratio for Lite: a request without one is sent this.
    defaultAspectRatio: "1:1",
    aspectRatioRequired: true,
    googleSearch: false,
    kie: {
      textModel: "nano-banana-2-lite",
      editModel: "nano-banana-2-lite",
      promptMaxChars: 20_000,
      images: { field: "image_urls", max: 10, maxBytes: 30 * MB },
      aspectField: "aspect_ratio",
      // Not published by KIE: assumed no dearer than the cheapest (check creditsConsumed).
      cost: { default: 4 },
    },
  },
];

export const CATALOG_MODEL_IDS = CATALOG.map((m) => m.id);

/** KIE ids accepted as `model` (the API's first ids): each names its catalogue entry. */
export const LEGACY_MODEL_IDS = [
  ...new Set(CATALOG.flatMap((m) => [m.kie.textModel, m.kie.editModel])),
].filter((id) => !CATALOG_MODEL_IDS.includes(id));

/** Every value `model` may take: catalogue ids first, then the legacy KIE ids. */
export const MODEL_IDS = [...CATALOG_MODEL_IDS, ...LEGACY_MODEL_IDS] as [string, ...string[]];

export interface ModelLookup {
  model: CatalogModel;
  /** The id named a KIE edit-only model (google/nano-banana-edit): images are required. */
  requiresImages: boolean;
}

/** A catalogue id or a KIE id of one of its models; undefined when neither. */
export function lookupModel(id: string): ModelLookup | undefined {
  const byId = CATALOG.find((m) => m.id === id);
  if (byId) return { model: byId, requiresImages: false };
  const byKie = CATALOG.find((m) => m.kie.textModel === id || m.kie.editModel === id);
  if (!byKie) return undefined;
  return { model: byKie, requiresImages: byKie.kie.editModel === id && byKie.kie.textModel !== id };
}

/** The product's limits for a model, and KIE's where ours are lower (GET /api/models). */
export function modelLimits(model: CatalogModel, maxUploadBytes: number) {
  return {
    promptMaxChars: Math.min(MAX_PROMPT_CHARS, model.kie.promptMaxChars),
    maxImages: Math.min(MAX_IMAGES_PER_REQUEST, model.kie.images.max),
    maxImageBytes: Math.min(maxUploadBytes, model.kie.images.maxBytes),
    kie: {
      promptMaxChars: model.kie.promptMaxChars,
      maxImages: model.kie.images.max,
      maxImageBytes: model.kie.images.maxBytes,
    },
  };
}

/**
 * The start-up warning when KIE_MODEL or KIE_EDIT_MODEL names a model being retired: it keeps
 * running (the operator moves on by setting the variable, never silently), but they should know.
 */
export function retiringModelWarning(defaults: { textModel: string; editModel: string }): string | undefined {
  const retiring = [
    ["KIE_MODEL", defaults.textModel],
    ["KIE_EDIT_MODEL", defaults.editModel],
  ].flatMap(([name, id]) => {
    const deprecated = lookupModel(id as string)?.model.deprecated;
    return deprecated
      ? [`${name}=${id} is being retired (${deprecated.reason}); set ${name}=${deprecated.successor} to move`]
      : [];
  });
  return retiring.length > 0 ? retiring.join("; ") : undefined;
}
