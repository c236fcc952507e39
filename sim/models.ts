/**
 * The models kie-sim accepts, as one table (kie-api.md "Other Nano Banana models"): adding a model
 * is one entry. Validation is stricter than KIE in one way on purpose: a field the model does not
 * take is refused, because real KIE would silently ignore it and a mapper bug (say, `image_size`
 * sent to nano-banana-pro, or `google_search`, gone from nano-banana-2's schema) would go unnoticed
 * until production.
 */

export const BASE_ASPECT_RATIOS = [
  "1:1",
  "9:16",
  "16:9",
  "3:4",
  "4:3",
  "3:2",
  "2:3",
  "5:4",
  "4:5",
  "21:9",
  "auto",
] as const;
/** NB2, 2.1 and Lite add four extreme ratios. */
const WIDE_ASPECT_RATIOS = [...BASE_ASPECT_RATIOS, "1:4", "4:1", "1:8", "8:1"] as const;

export interface SimModelSpec {
  id: string;
  promptMax: number;
  images?: { field: "image_urls" | "image_input"; max: number; maxBytes: number; required: boolean };
  aspect: {
    field: "aspect_ratio";
    values: readonly string[];
    /** Absent: the field is required (nano-banana-2-lite). */
    default?: string;
    /** An older name KIE still accepts for the same values (`image_size` on google/nano-banana). */
    deprecatedField?: "image_size";
  };
  /** Absent: the model has no `output_format` (sending one is refused); it draws `drawnFormat`. */
  outputFormat?: { values: readonly string[]; default: string };
  drawnFormat: "png" | "jpeg";
  /** Present when the model takes `resolution`; the first value is the default. */
  resolutions?: readonly string[];
  booleanFields: readonly string[];
  /** KIE credits charged per task (kie-api.md's quoted prices; Lite's is not published: a guess). */
  credits: (resolution: string) => number;
}

const MB = 1024 * 1024;

/** The two legacy Google models differ only in taking images. */
const LEGACY_GOOGLE = {
  promptMax: 5000,
  aspect: {
    field: "aspect_ratio",
    values: BASE_ASPECT_RATIOS,
    default: "1:1",
    deprecatedField: "image_size",
  },
  outputFormat: { values: ["png", "jpeg"], default: "png" },
  drawnFormat: "png",
  booleanFields: ["nsfw_checker"],
  credits: () => 4,
} as const satisfies Omit<SimModelSpec, "id">;

/** Nano Banana 2 and its successor 2.1 share field names; 2.1 takes fewer images and costs less. */
const FLASH = {
  promptMax: 20_000,
  aspect: { field: "aspect_ratio", values: WIDE_ASPECT_RATIOS, default: "auto" },
  outputFormat: { values: ["jpg", "png"], default: "jpg" },
  drawnFormat: "jpeg",
  resolutions: ["1K", "2K", "4K"],
  booleanFields: [],
} as const satisfies Partial<SimModelSpec>;

export const SIM_MODELS: readonly SimModelSpec[] = [
  { id: "google/nano-banana", ...LEGACY_GOOGLE },
  {
    id: "google/nano-banana-edit",
    ...LEGACY_GOOGLE,
    images: { field: "image_urls", max: 10, maxBytes: 10 * MB, required: true },
  },
  {
    id: "nano-banana-pro",
    promptMax: 10_000,
    images: { field: "image_input", max: 8, maxBytes: 30 * MB, required: false },
    aspect: { field: "aspect_ratio", values: BASE_ASPECT_RATIOS, default: "1:1" },
    outputFormat: { values: ["png", "jpg"], default: "png" },
    drawnFormat: "png",
    resolutions: ["1K", "2K", "4K"],
    booleanFields: [],
    credits: (resolution) => (resolution === "4K" ? 24 : 18),
  },
  {
    id: "nano-banana-2",
    ...FLASH,
    images: { field: "image_input", max: 14, maxBytes: 30 * MB, required: false },
    credits: (resolution) => (resolution === "4K" ? 18 : resolution === "2K" ? 12 : 8),
  },
  {
    id: "nano-banana-2-1",
    ...FLASH,
    // The page's prose says 10, its schema 14: the sim holds to the lower one.
    images: { field: "image_input", max: 10, maxBytes: 30 * MB, required: false },
    credits: (resolution) => (resolution === "4K" ? 9 : resolution === "2K" ? 6 : 4),
  },
  {
    id: "nano-banana-2-lite",
    promptMax: 20_000,
    images: { field: "image_urls", max: 10, maxBytes: 30 * MB, required: false },
    aspect: { field: "aspect_ratio", values: WIDE_ASPECT_RATIOS },
    drawnFormat: "jpeg",
    booleanFields: [],
    credits: () => 4,
  },
];

export function findModel(id: string): SimModelSpec | undefined {
  return SIM_MODELS.find((m) => m.id === id);
}

/** What a task needs to be drawn, independent of the model's field names. */
export interface NormalizedTaskInput {
  prompt: string;
  format: "png" | "jpeg";
  aspect: string;
  /** 1 for 1K, 2 for 2K, 4 for 4K. */
  resolutionFactor: number;
  resolution: string;
  imageUrls: string[];
  maxImageBytes: number;
  credits: number;
}

export class InputValidationError extends Error {
  constructor(
    readonly code: 400 | 422,
    message: string,
  ) {
    super(message);
    this.name = "InputValidationError";
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

const invalid = (message: string) => new InputValidationError(422, message);

function requireModel(value: unknown): SimModelSpec {
  if (value === undefined || value === null || value === "") throw invalid("model is required");
  if (typeof value !== "string") throw invalid("model must be a string");
  const model = findModel(value);
  if (!model) {
    throw invalid(`model '${value}' is not supported (supported: ${SIM_MODELS.map((m) => m.id).join(", ")})`);
  }
  return model;
}

function optionalCallBackUrl(value: unknown): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string" || !isHttpUrl(value)) throw invalid("callBackUrl must be an http(s) URL");
  return value;
}

/** The input fields a model takes (its deprecated aliases included). */
function acceptedFields(model: SimModelSpec): string[] {
  return [
    "prompt",
    ...(model.outputFormat ? ["output_format"] : []),
    model.aspect.field,
    ...(model.aspect.deprecatedField ? [model.aspect.deprecatedField] : []),
    ...(model.images ? [model.images.field] : []),
    ...(model.resolutions ? ["resolution"] : []),
    ...model.booleanFields,
  ];
}

/** Refuses any input field the model does not take (stricter than KIE on purpose; see above). */
function refuseUnknownFields(model: SimModelSpec, input: Record<string, unknown>): void {
  const allowed = acceptedFields(model);
  const unknown = Object.keys(input).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw invalid(
      `input.${unknown[0]} is not a parameter of model ${model.id} (accepted: ${allowed.join(", ")})`,
    );
  }
}

/** `input.<name>`, one of `allowed`. */
function choice(name: string, field: { value: unknown; allowed: readonly string[] }): string {
  const { value, allowed } = field;
  if (typeof value !== "string" || !allowed.includes(value)) {
    throw invalid(`input.${name} must be one of ${allowed.join(", ")}`);
  }
  return value;
}

function requirePrompt(model: SimModelSpec, prompt: unknown): string {
  if (typeof prompt !== "string" || prompt.trim() === "") throw invalid("input.prompt is required");
  if (prompt.length > model.promptMax) throw invalid(`input.prompt exceeds ${model.promptMax} characters`);
  return prompt;
}

/** The ratio under the model's field (or its deprecated alias), else its default; required without one. */
function aspectOf(model: SimModelSpec, input: Record<string, unknown>): string {
  const { field, deprecatedField, values } = model.aspect;
  if (input[field] === undefined && deprecatedField && input[deprecatedField] !== undefined) {
    return choice(deprecatedField, { value: input[deprecatedField], allowed: values });
  }
  const value = input[field] ?? model.aspect.default;
  if (value === undefined) throw invalid(`input.${field} is required for model ${model.id}`);
  return choice(field, { value, allowed: values });
}

function imageUrls(model: SimModelSpec, input: Record<string, unknown>): string[] {
  if (!model.images) return [];
  const { field, max, required } = model.images;
  const raw = input[field];
  if (raw === undefined || raw === null) {
    if (required) throw invalid(`input.${field} is required for model ${model.id}`);
    return [];
  }
  if (!Array.isArray(raw)) throw invalid(`input.${field} must be an array of URLs`);
  if (required && raw.length === 0) throw invalid(`input.${field} needs at least one image URL`);
  if (raw.length > max) throw invalid(`input.${field} has ${raw.length} images; at most ${max} are allowed`);
  return raw.map((url, i) => {
    if (typeof url !== "string" || !isHttpUrl(url))
      throw invalid(`input.${field}[${i}] must be an http(s) URL`);
    return url;
  });
}

/** The model's input checked field by field (in this order, so the first problem is named). */
function normalizeInput(model: SimModelSpec, input: Record<string, unknown>): NormalizedTaskInput {
  refuseUnknownFields(model, input);
  const prompt = requirePrompt(model, input.prompt);
  const format = model.outputFormat
    ? choice("output_format", {
        value: input.output_format ?? model.outputFormat.default,
        allowed: model.outputFormat.values,
      })
    : model.drawnFormat;
  const aspect = aspectOf(model, input);
  const resolution = model.resolutions
    ? choice("resolution", { value: input.resolution ?? model.resolutions[0], allowed: model.resolutions })
    : "1K";
  for (const field of model.booleanFields) {
    if (input[field] !== undefined && typeof input[field] !== "boolean") {
      throw invalid(`input.${field} must be a boolean`);
    }
  }
  return {
    prompt,
    format: format === "png" ? "png" : "jpeg",
    aspect,
    resolution,
    resolutionFactor: resolution === "4K" ? 4 : resolution === "2K" ? 2 : 1,
    imageUrls: imageUrls(model, input),
    maxImageBytes: model.images?.maxBytes ?? 10 * MB,
    credits: model.credits(resolution),
  };
}

/** createTask's own fields; anything else is refused (a client bug KIE would ignore silently). */
const BODY_FIELDS = ["model", "callBackUrl", "input"];

/** Validates a createTask body like KIE (code 422 naming the field) and normalizes its input. */
export function validateCreateTask(body: unknown): {
  model: SimModelSpec;
  callBackUrl?: string;
  input: NormalizedTaskInput;
} {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InputValidationError(400, "request body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  const model = requireModel(b.model);
  const extra = Object.keys(b).find((k) => !BODY_FIELDS.includes(k));
  if (extra !== undefined)
    throw invalid(`${extra} is not a createTask parameter (accepted: model, callBackUrl, input)`);
  const callBackUrl = optionalCallBackUrl(b.callBackUrl);
  if (typeof b.input !== "object" || b.input === null || Array.isArray(b.input)) {
    throw invalid("input is required and must be an object");
  }
  return { model, callBackUrl, input: normalizeInput(model, b.input as Record<string, unknown>) };
}
