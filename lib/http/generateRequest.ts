/**
 * Turns a `POST /api/generate` body — JSON or multipart/form-data (DESIGN.md §3) — into a
 * validated request, the local image files to upload, and the fingerprint that Idempotency-Key
 * compares. Everything here fails before any credit is reserved or any call reaches KIE.
 */
import {
  chooseModel,
  type DefaultModels,
  type ImageGenerationRequest,
  imageGenerationFieldsSchema,
  MAX_IMAGES_PER_REQUEST,
  modelImageProblem,
} from "@/lib/catalog";
import type { LocalImageFile } from "@/lib/generation";
import { parseDataUri, validateImageCount, validateImageFile } from "@/lib/security/fileValidation";
import { readJson } from "./body";
import { ApiError } from "./errors";
import { requestFingerprint, sha256Hex } from "./idempotency";

export interface GenerateRequestLimits {
  /** MAX_UPLOAD_BYTES, per file. */
  maxUploadBytes: number;
  /** Largest width × height accepted (pixel bombs). */
  maxPixels: number;
  /** KIE_MODEL / KIE_EDIT_MODEL: options of a request that names no model are checked against these. */
  models?: DefaultModels;
}

export interface ParsedGenerateRequest {
  /** `images` holds only https URLs; every local image is in `files`. */
  request: ImageGenerationRequest;
  files: LocalImageFile[];
  /** Hash of the whole request, file contents included (Idempotency-Key reuse detection). */
  fingerprint: string;
}

/** Text fields of a multipart request; everything else there must be an `images` part. */
const MULTIPART_TEXT_FIELDS = new Set([
  "prompt",
  "model",
  "aspectRatio",
  "resolution",
  "googleSearch",
  "randomSeed",
  "outputFormat",
]);

/** Multipart fields are text: numbers and booleans are read as the JSON body would carry them. */
function multipartValue(name: string, value: string): unknown {
  const trimmed = value.trim();
  if (name === "randomSeed" && /^-?\d+$/.test(trimmed)) return Number(trimmed);
  if (name === "googleSearch" && (trimmed === "true" || trimmed === "false")) return trimmed === "true";
  return value;
}

export async function parseGenerateRequest(
  request: Request,
  limits: GenerateRequestLimits,
): Promise<ParsedGenerateRequest> {
  const contentType = request.headers.get("content-type")?.toLowerCase() ?? "";
  if (contentType.startsWith("multipart/form-data")) return parseMultipart(request, limits);
  if (contentType.startsWith("application/json") || contentType === "") return parseJson(request, limits);
  throw new ApiError("invalid_request", "Send the request as application/json or multipart/form-data.");
}

async function parseJson(request: Request, limits: GenerateRequestLimits): Promise<ParsedGenerateRequest> {
  // Five images as data URIs (base64 grows them by a third) plus the prompt and the JSON around them.
  const maxBytes = Math.ceil((MAX_IMAGES_PER_REQUEST * limits.maxUploadBytes * 4) / 3) + 64 * 1024;
  const fields = await readJson(request, imageGenerationFieldsSchema, { maxBytes });
  const urls: string[] = [];
  const files: LocalImageFile[] = [];
  for (const image of fields.images ?? []) {
    if (!image.startsWith("data:")) {
      urls.push(image);
      continue;
    }
    const decoded = await parseDataUri(image, {
      maxBytes: limits.maxUploadBytes,
      maxPixels: limits.maxPixels,
    });
    // No file name: KIE overwrites a reused name, so the client generates a unique one.
    files.push({
      data: new Blob([new Uint8Array(decoded.data)], { type: decoded.mimeType }),
      mimeType: decoded.mimeType,
    });
  }
  return finish(fields, urls, files, limits.models);
}

async function parseMultipart(
  request: Request,
  limits: GenerateRequestLimits,
): Promise<ParsedGenerateRequest> {
  // Refuse an oversized body before buffering it.
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  const maxBody = MAX_IMAGES_PER_REQUEST * limits.maxUploadBytes + 1024 * 1024;
  if (declared > maxBody) throw new ApiError("file_too_large", "The upload is larger than the limit.");

  let form: FormData;
  try {
    form = await request.formData();
  } catch {
    throw new ApiError("invalid_request", "The multipart/form-data body could not be read.");
  }
  const fields: Record<string, unknown> = {};
  const urls: string[] = [];
  const parts: File[] = [];
  for (const [name, value] of form.entries()) {
    if (name === "images" || name === "images[]") {
      if (typeof value === "string") urls.push(value);
      else parts.push(value);
      continue;
    }
    if (!MULTIPART_TEXT_FIELDS.has(name)) throw new ApiError("invalid_request", `Unknown field "${name}".`);
    if (typeof value !== "string") throw new ApiError("invalid_request", `Field "${name}" must be text.`);
    if (name in fields) throw new ApiError("invalid_request", `Field "${name}" is given twice.`);
    fields[name] = multipartValue(name, value);
  }
  validateImageCount(urls.length + parts.length, MAX_IMAGES_PER_REQUEST);
  const parsed = imageGenerationFieldsSchema.parse({ ...fields, ...(urls.length > 0 && { images: urls }) });
  const files: LocalImageFile[] = [];
  for (const part of parts) {
    const checked = await validateImageFile(
      { data: part, name: part.name, declaredType: part.type },
      { maxBytes: limits.maxUploadBytes, maxPixels: limits.maxPixels },
    );
    files.push({ data: part, mimeType: checked.mimeType });
  }
  return finish(parsed, parsed.images ?? [], files, limits.models);
}

async function finish(
  fields: ImageGenerationRequest,
  urls: string[],
  files: LocalImageFile[],
  models: DefaultModels | undefined,
): Promise<ParsedGenerateRequest> {
  validateImageCount(urls.length + files.length, MAX_IMAGES_PER_REQUEST);
  const problem = modelImageProblem(fields.model, urls.length + files.length);
  if (problem) throw new ApiError("invalid_request", `The request is invalid: model: ${problem}.`);
  // An option the model lacks (resolution on nano-banana, say) is a 400 naming it.
  if (models) chooseModel(fields, urls.length + files.length, models);
  const request: ImageGenerationRequest = { ...fields, images: urls.length > 0 ? urls : undefined };
  const fileHashes = await Promise.all(
    files.map(async (file) => sha256Hex(new Uint8Array(await file.data.arrayBuffer()))),
  );
  return { request, files, fingerprint: requestFingerprint({ request, files: fileHashes }) };
}
