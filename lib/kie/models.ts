/**
 * The Nano Banana models this product offers, as one table (kie-api.md "Other Nano Banana
 * models"): each model's input field names, limits and allowed values. Adding a model is one
 * entry in KIE_MODELS; the request schema and the createTask mapper read everything from here.
 */
import { z } from "zod";

/** Aspect ratios our public API accepts (DESIGN.md §3); every offered model takes all of them. */
export const ASPECT_RATIOS = [
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
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

/** Output formats our public API accepts; each model spells `jpeg` its own way. */
export const OUTPUT_FORMATS = ["png", "jpeg"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Images per request this product allows, whatever the model would take. */
export const MAX_IMAGES_PER_REQUEST = 5;
/** Prompt length this product allows, whatever the model would take. */
export const MAX_PROMPT_CHARS = 5000;

export interface KieModelSpec {
  /** Longest prompt KIE accepts for this model. */
  promptMaxChars: number;
  /** Whether the model runs without input images. */
  acceptsTextOnly: boolean;
  /** How the model takes input images; undefined when it takes none. */
  images?: { field: "image_urls" | "image_input"; max: number; maxBytes: number };
  /** The model to use instead when images are given to a text-only model. */
  editModel?: string;
  aspect: { field: "image_size" | "aspect_ratio"; values: readonly string[] };
  /** Our output format → the value this model expects. */
  outputFormat: Readonly<Record<OutputFormat, string>>;
  /** Inputs this model has beyond ours; documented here, not sent (our API does not expose them). */
  extraInputs: Readonly<Record<string, readonly string[] | "boolean">>;
}

const MB = 1024 * 1024;
const COMMON_ASPECTS: readonly string[] = ASPECT_RATIOS;

export const KIE_MODELS = {
  "google/nano-banana": {
    promptMaxChars: 5000,
    acceptsTextOnly: true,
    editModel: "google/nano-banana-edit",
    aspect: { field: "image_size", values: COMMON_ASPECTS },
    outputFormat: { png: "png", jpeg: "jpeg" },
    extraInputs: {},
  },
  "google/nano-banana-edit": {
    promptMaxChars: 5000,
    acceptsTextOnly: false,
    images: { field: "image_urls", max: 10, maxBytes: 10 * MB },
    aspect: { field: "image_size", values: COMMON_ASPECTS },
    outputFormat: { png: "png", jpeg: "jpeg" },
    extraInputs: {},
  },
  "nano-banana-pro": {
    promptMaxChars: 10000,
    acceptsTextOnly: true,
    images: { field: "image_input", max: 8, maxBytes: 30 * MB },
    aspect: { field: "aspect_ratio", values: COMMON_ASPECTS },
    outputFormat: { png: "png", jpeg: "jpg" },
    extraInputs: { resolution: ["1K", "2K", "4K"] },
  },
  "nano-banana-2": {
    promptMaxChars: 20000,
    acceptsTextOnly: true,
    images: { field: "image_input", max: 14, maxBytes: 30 * MB },
    aspect: { field: "aspect_ratio", values: [...COMMON_ASPECTS, "1:4", "4:1", "1:8", "8:1"] },
    outputFormat: { png: "png", jpeg: "jpg" },
    extraInputs: { resolution: ["1K", "2K", "4K"], google_search: "boolean" },
  },
} as const satisfies Record<string, KieModelSpec>;

export type KieModelId = keyof typeof KIE_MODELS;

export const OFFERED_MODEL_IDS = Object.keys(KIE_MODELS) as [KieModelId, ...KieModelId[]];

export function isKnownModel(id: string): id is KieModelId {
  return Object.hasOwn(KIE_MODELS, id);
}

export function getModelSpec(id: string): KieModelSpec | undefined {
  return isKnownModel(id) ? KIE_MODELS[id] : undefined;
}

function isHttpsUrl(value: string): boolean {
  // z.url() would also accept "https:/host" (the WHATWG parser repairs it); KIE needs a real URL.
  if (!/^https:\/\/[^/?#\s]/i.test(value)) return false;
  try {
    return new URL(value).hostname !== "";
  } catch {
    return false;
  }
}

export const imageInputSchema = z
  .string()
  // A data: URI is only recognised here; its bytes are checked (type by magic bytes, size, pixels)
  // by lib/security before use, which answers 413/415 rather than a blanket 400.
  .refine((value) => value.startsWith("data:") || isHttpsUrl(value), {
    error: "each image must be an https URL or a base64 data: URI of a png, jpeg or webp image",
  });

/**
 * The public generation request body (DESIGN.md §3, `POST /api/generate`).
 *
 * Unknown keys are rejected (strict object) so a typo such as `aspect_ratio` is a 400 the caller
 * sees, rather than a silently ignored option that still costs a credit.
 */
export const imageGenerationFieldsSchema = z.strictObject({
  prompt: z
    .string({ error: "prompt must be a string" })
    .trim()
    .min(1, { error: "prompt must not be blank" })
    .max(MAX_PROMPT_CHARS, { error: `prompt must be at most ${MAX_PROMPT_CHARS} characters` }),
  model: z
    .enum(OFFERED_MODEL_IDS, { error: `model must be one of: ${OFFERED_MODEL_IDS.join(", ")}` })
    .optional(),
  aspectRatio: z
    .enum(ASPECT_RATIOS, { error: `aspectRatio must be one of: ${ASPECT_RATIOS.join(", ")}` })
    .optional(),
  randomSeed: z.int({ error: "randomSeed must be an integer" }).optional(),
  outputFormat: z.enum(OUTPUT_FORMATS, { error: "outputFormat must be png or jpeg" }).optional(),
  images: z
    .array(imageInputSchema, { error: "images must be an array of strings" })
    .max(MAX_IMAGES_PER_REQUEST, { error: `at most ${MAX_IMAGES_PER_REQUEST} images are allowed` })
    .optional(),
});

/**
 * A model that only edits needs an image. `imageCount` counts every image of the request: URLs,
 * data URIs and uploaded files (multipart requests carry files outside `images`).
 */
export function modelImageProblem(model: string | undefined, imageCount: number): string | undefined {
  const spec = model ? getModelSpec(model) : undefined;
  if (spec && imageCount === 0 && !spec.acceptsTextOnly) return `${model} needs at least one image`;
  return undefined;
}

export const imageGenerationSchema = imageGenerationFieldsSchema.superRefine((request, ctx) => {
  const problem = modelImageProblem(request.model, request.images?.length ?? 0);
  if (problem) ctx.addIssue({ code: "custom", path: ["model"], message: problem });
});

export type ImageGenerationRequest = z.infer<typeof imageGenerationSchema>;
