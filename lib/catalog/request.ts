/**
 * The public generation request (DESIGN.md §3, `POST /api/generate`): the zod schema that
 * validates it is also what GET /api/openapi.json publishes. Model-dependent options (which
 * aspect ratios, resolution, googleSearch) are checked against the catalogue by choice.ts.
 */
import { z } from "zod";
import { resolveModelChoice } from "./choice";
import {
  ASPECT_RATIOS,
  CATALOG_MODEL_IDS,
  LEGACY_MODEL_IDS,
  lookupModel,
  MAX_IMAGES_PER_REQUEST,
  MAX_PROMPT_CHARS,
  MODEL_IDS,
  OUTPUT_FORMATS,
  RESOLUTIONS,
} from "./models";

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
  })
  .meta({ description: "An https URL, or a base64 data: URI of a png, jpeg or webp image." });

/**
 * The request body's fields. Unknown keys are rejected (strict object) so a typo such as
 * `aspect_ratio` is a 400 the caller sees, rather than a silently ignored option that still
 * costs credits.
 */
export const imageGenerationFieldsSchema = z.strictObject({
  prompt: z
    .string({ error: "prompt must be a string" })
    .trim()
    .min(1, { error: "prompt must not be blank" })
    .max(MAX_PROMPT_CHARS, { error: `prompt must be at most ${MAX_PROMPT_CHARS} characters` })
    // Postgres text cannot hold U+0000: refused here, not a failed insert (a 500) later.
    .refine((value) => !value.includes("\u0000"), { error: "prompt must not contain a NUL character" })
    .meta({ description: `1–${MAX_PROMPT_CHARS} characters after trimming.` }),
  model: z
    .enum(MODEL_IDS, { error: `model must be one of: ${MODEL_IDS.join(", ")}` })
    .optional()
    .meta({
      description:
        `A model of GET /api/models (${CATALOG_MODEL_IDS.join(", ")}); the KIE ids ` +
        `${LEGACY_MODEL_IDS.join(", ")} name nano-banana. Default: KIE_MODEL, or KIE_EDIT_MODEL with images.`,
    }),
  aspectRatio: z
    .enum(ASPECT_RATIOS, { error: `aspectRatio must be one of: ${ASPECT_RATIOS.join(", ")}` })
    .optional()
    .meta({ description: "One of the model's aspectRatios (GET /api/models)." }),
  resolution: z
    .enum(RESOLUTIONS, { error: `resolution must be one of: ${RESOLUTIONS.join(", ")}` })
    .optional()
    .meta({ description: "Only for models with resolutions (GET /api/models); otherwise 400." }),
  googleSearch: z.boolean({ error: "googleSearch must be true or false" }).optional().meta({
    description: "Ground the image in Google Search; only for models that offer it, otherwise 400.",
  }),
  randomSeed: z
    .int({ error: "randomSeed must be an integer" })
    .optional()
    .meta({ description: "Stored but not sent: KIE has no seed parameter (the answer then has warnings)." }),
  outputFormat: z.enum(OUTPUT_FORMATS, { error: "outputFormat must be png or jpeg" }).optional(),
  images: z
    .array(imageInputSchema, { error: "images must be an array of strings" })
    .max(MAX_IMAGES_PER_REQUEST, { error: `at most ${MAX_IMAGES_PER_REQUEST} images are allowed` })
    .optional()
    .meta({ description: `0–${MAX_IMAGES_PER_REQUEST} reference images: with any, the request is an edit.` }),
  sourceTaskId: z
    .string({ error: "sourceTaskId must be a string" })
    .trim()
    .min(1, { error: "sourceTaskId must not be blank" })
    .max(200, { error: "sourceTaskId must be at most 200 characters" })
    .optional()
    .meta({
      description:
        "Edit one of your own succeeded jobs without uploading its image again: its result is the " +
        "first reference image (it counts toward the limit), and the new job records it as its parent.",
    }),
});

/** The most variations one request may ask for (`n`, DESIGN.md §3). */
export const MAX_VARIATIONS = 4;
const variationsError = `n must be a whole number from 1 to ${MAX_VARIATIONS}`;

/**
 * POST /api/generate's fields: the request, plus `n` — how many images (each its own KIE task and
 * its own charge) to make from it. Kept out of the request itself: KIE has no count parameter.
 */
export const generateFieldsSchema = imageGenerationFieldsSchema.extend({
  n: z
    .int({ error: variationsError })
    .min(1, { error: variationsError })
    .max(MAX_VARIATIONS, { error: variationsError })
    .optional()
    .meta({
      description:
        `1–${MAX_VARIATIONS} images (default 1), each its own job and charge, grouped by batchId. ` +
        "With n > 1 the answer lists every job (generations).",
    }),
  referenceImageIds: z
    .array(z.string({ error: "referenceImageIds must be strings" }).max(64), {
      error: "referenceImageIds must be an array of strings",
    })
    .max(MAX_IMAGES_PER_REQUEST, { error: `at most ${MAX_IMAGES_PER_REQUEST} images are allowed` })
    .optional()
    .meta({
      description:
        "Reference images uploaded before, by the ids a job's stored request names them with " +
        "(request.referenceImageIds): used again from our store without an upload; they count toward the limit.",
    }),
});

/** Every image a request brings: its URLs and data URIs, its files, and its source job's result. */
export function imageCountOf(request: Pick<ImageGenerationRequest, "images" | "sourceTaskId">, files = 0) {
  return (request.images?.length ?? 0) + files + (request.sourceTaskId ? 1 : 0);
}

/**
 * A model that only edits needs an image. `imageCount` counts every image of the request: URLs,
 * data URIs and uploaded files (multipart requests carry files outside `images`).
 */
export function modelImageProblem(model: string | undefined, imageCount: number): string | undefined {
  const found = model ? lookupModel(model) : undefined;
  if (found?.requiresImages && imageCount === 0) return `${model} needs at least one image`;
  return undefined;
}

/** The fields, checked against the named model (a request that names none is checked later). */
export const imageGenerationSchema = imageGenerationFieldsSchema.superRefine((request, ctx) => {
  if (request.model === undefined) return;
  const result = resolveModelChoice(request, imageCountOf(request), {
    textModel: request.model,
    editModel: request.model,
  });
  if (result.ok) return;
  for (const issue of result.issues)
    ctx.addIssue({ code: "custom", path: [issue.field], message: issue.message });
});

export type ImageGenerationRequest = z.infer<typeof imageGenerationSchema>;
