/**
 * The models kie-sim accepts, as one table (kie-api.md "Other Nano Banana models"): adding a model
 * is one entry. Validation is stricter than KIE in one way on purpose: an input field the model
 * does not take is refused, because real KIE would silently ignore it and a mapper bug (say,
 * `image_size` sent to nano-banana-pro) would go unnoticed until production.
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

export interface SimModelSpec {
  id: string;
  promptMax: number;
  images?: { field: "image_urls" | "image_input"; max: number; maxBytes: number; required: boolean };
  aspectField: "image_size" | "aspect_ratio";
  aspectValues: readonly string[];
  defaultAspect: string;
  outputFormats: readonly string[];
  defaultOutputFormat: string;
  resolutions?: readonly string[];
  booleanFields: readonly string[];
  /** KIE credits charged per task (simulated; not KIE's price list). */
  credits: (resolution: string) => number;
}

const MB = 1024 * 1024;

/** The two legacy Google models differ only in taking images. */
const LEGACY_GOOGLE = {
  promptMax: 5000,
  aspectField: "image_size",
  aspectValues: BASE_ASPECT_RATIOS,
  defaultAspect: "auto",
  outputFormats: ["png", "jpeg"],
  defaultOutputFormat: "png",
  booleanFields: [],
  credits: () => 4,
} as const satisfies Omit<SimModelSpec, "id">;

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
    aspectField: "aspect_ratio",
    aspectValues: BASE_ASPECT_RATIOS,
    defaultAspect: "1:1",
    outputFormats: ["png", "jpg"],
    defaultOutputFormat: "png",
    resolutions: ["1K", "2K", "4K"],
    booleanFields: [],
    credits: (resolution) => (resolution === "4K" ? 24 : 18),
  },
  {
    id: "nano-banana-2",
    promptMax: 20_000,
    images: { field: "image_input", max: 14, maxBytes: 30 * MB, required: false },
    aspectField: "aspect_ratio",
    aspectValues: [...BASE_ASPECT_RATIOS, "1:4", "4:1", "1:8", "8:1"],
    defaultAspect: "auto",
    outputFormats: ["jpg", "png"],
    defaultOutputFormat: "jpg",
    resolutions: ["1K", "2K", "4K"],
    booleanFields: ["google_search"],
    credits: (resolution) => (resolution === "4K" ? 18 : resolution === "2K" ? 12 : 8),
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

/** Refuses any input field the model does not take (stricter than KIE on purpose; see above). */
function refuseUnknownFields(model: SimModelSpec, input: Record<string, unknown>): void {
  const allowed = new Set<string>([
    "prompt",
    "output_format",
    model.aspectField,
    ...(model.images ? [model.images.field] : []),
    ...(model.resolutions ? ["resolution"] : []),
    ...model.booleanFields,
  ]);
  const unknown = Object.keys(input).filter((k) => !allowed.has(k));
  if (unknown.length > 0) {
    throw invalid(
      `input.${unknown[0]} is not a parameter of model ${model.id} (accepted: ${[...allowed].join(", ")})`,
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
  const format = choice("output_format", {
    value: input.output_format ?? model.defaultOutputFormat,
    allowed: model.outputFormats,
  });
  const aspect = choice(model.aspectField, {
    value: input[model.aspectField] ?? model.defaultAspect,
    allowed: model.aspectValues,
  });
  const resolution = model.resolutions
    ? choice("resolution", { value: input.resolution ?? "1K", allowed: model.resolutions })
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
  const callBackUrl = optionalCallBackUrl(b.callBackUrl);
  if (typeof b.input !== "object" || b.input === null || Array.isArray(b.input)) {
    throw invalid("input is required and must be an object");
  }
  return { model, callBackUrl, input: normalizeInput(model, b.input as Record<string, unknown>) };
}
