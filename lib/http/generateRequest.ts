/**
 * Turns a `POST /api/generate` body — JSON or multipart/form-data (DESIGN.md §3) — into a
 * validated request, the local image files to upload, and the fingerprint that Idempotency-Key
 * compares. Everything here fails before any credit is reserved or any call reaches KIE.
 */
import {
  chooseModel,
  type DefaultModels,
  generateFieldsSchema,
  type ImageGenerationRequest,
  imageCountOf,
  MAX_IMAGES_PER_REQUEST,
  modelImageProblem,
} from "@/lib/catalog";
import type { LocalImageFile } from "@/lib/generation";
import {
  parseDataUri,
  uprightImage,
  validateImageCount,
  validateImageFile,
} from "@/lib/security/fileValidation";
import { readJson, requireMediaType } from "./body";
import { ApiError } from "./errors";
import { requestFingerprint, sha256Hex } from "./idempotency";
import { type MultipartForm, readMultipart } from "./multipart";

export interface GenerateRequestLimits {
  /** MAX_UPLOAD_BYTES, per file. */
  maxUploadBytes: number;
  /** Largest width × height accepted (pixel bombs). */
  maxPixels: number;
  /** KIE_MODEL / KIE_EDIT_MODEL: options of a request that names no model are checked against these. */
  models?: DefaultModels;
  /** Where multipart files are spooled: DATA_DIR/spool/uploads (spoolDirOf). */
  spoolDir: string;
  /** UPLOAD_IDLE_TIMEOUT_MS: no byte of the body for this long → 408. */
  idleTimeoutMs?: number;
}

export interface ParsedGenerateRequest {
  /** `images` holds only https URLs; every local image is in `files`. */
  request: ImageGenerationRequest;
  /** `n`: how many images (jobs) to make from the request, 1–4. */
  count: number;
  /** `referenceImageIds`: stored inputs of the user's earlier jobs, used again (after `sourceTaskId`'s image). */
  referenceImageIds: string[];
  files: LocalImageFile[];
  /** Hash of the whole request, file contents included (Idempotency-Key reuse detection). */
  fingerprint: string;
  /** Keeps `files` readable until the returned function is called (a reader that may outlive the request). */
  retain(): () => Promise<void>;
  /** Lets go of the request's own hold on `files`: spooled files go once every holder has let go. */
  dispose(): Promise<void>;
}

const noHold = async () => {};

/** Text fields of a multipart request; everything else there must be an `images` part. */
const MULTIPART_TEXT_FIELDS = new Set([
  "prompt",
  "model",
  "aspectRatio",
  "resolution",
  "googleSearch",
  "randomSeed",
  "outputFormat",
  "sourceTaskId",
  "n",
]);

/** Multipart fields are text: numbers and booleans are read as the JSON body would carry them. */
function multipartValue(name: string, value: string): unknown {
  const trimmed = value.trim();
  if ((name === "randomSeed" || name === "n") && /^-?\d+$/.test(trimmed)) return Number(trimmed);
  if (name === "googleSearch" && (trimmed === "true" || trimmed === "false")) return trimmed === "true";
  return value;
}

/** DESIGN.md §3: each https image URL is at most this long (they are stored with the job). */
export const MAX_IMAGE_URL_LENGTH = 2048;

/** A prompt of 5000 characters is at most 20 kB of UTF-8; a URL at most 2 kB. */
const MAX_FIELD_BYTES = 32 * 1024;

/**
 * The largest JSON body: one image of MAX_UPLOAD_BYTES as a data URI (base64 grows it by a third)
 * or several smaller ones, plus the fields. Larger sets of images go as multipart, where each file
 * is limited on its own while it streams in.
 */
export function jsonBodyLimit(maxUploadBytes: number): number {
  return Math.ceil((maxUploadBytes * 4) / 3) + 1024 * 1024;
}

/** The whole multipart body: five files at the limit, plus the fields and the part headers. */
export function multipartBodyLimit(maxUploadBytes: number): number {
  return MAX_IMAGES_PER_REQUEST * maxUploadBytes + 1024 * 1024;
}

export async function parseGenerateRequest(
  request: Request,
  limits: GenerateRequestLimits,
): Promise<ParsedGenerateRequest> {
  const type = requireMediaType(request, ["application/json", "multipart/form-data"]); // 415
  return type === "multipart/form-data" ? parseMultipart(request, limits) : parseJson(request, limits);
}

async function parseJson(request: Request, limits: GenerateRequestLimits): Promise<ParsedGenerateRequest> {
  const maxBytes = jsonBodyLimit(limits.maxUploadBytes);
  const fields = await readJson(request, generateFieldsSchema, {
    maxBytes,
    idleTimeoutMs: limits.idleTimeoutMs,
  });
  const urls: string[] = [];
  const files: HashedFile[] = [];
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
    const upright =
      decoded.orientation > 1 ? await uprightImage(decoded.data, decoded.mimeType) : decoded.data;
    // The fingerprint is of the bytes sent (a retry sends the same), the file what KIE gets.
    files.push({ ...hashedFile(upright, decoded.mimeType), sha256: sha256Hex(decoded.data) });
  }
  // Data URIs are Blobs in memory: nothing to hold or delete.
  return { ...finish(fields, urls, files, limits.models), retain: () => noHold, dispose: noHold };
}

async function parseMultipart(
  request: Request,
  limits: GenerateRequestLimits,
): Promise<ParsedGenerateRequest> {
  const form = await readMultipart(request, {
    maxBodyBytes: multipartBodyLimit(limits.maxUploadBytes),
    maxFileBytes: limits.maxUploadBytes,
    maxFiles: MAX_IMAGES_PER_REQUEST,
    maxFields: MULTIPART_TEXT_FIELDS.size + 2 * MAX_IMAGES_PER_REQUEST,
    maxFieldBytes: MAX_FIELD_BYTES,
    spoolDir: limits.spoolDir,
    idleTimeoutMs: limits.idleTimeoutMs,
  }); // 413 / 400 the moment a limit is passed, 408 once it stops arriving
  try {
    return { ...(await fromForm(form, limits)), retain: form.retain, dispose: form.dispose };
  } catch (error) {
    await form.dispose();
    throw error;
  }
}

async function fromForm(form: MultipartForm, limits: GenerateRequestLimits) {
  const fields: Record<string, unknown> = {};
  const urls: string[] = [];
  const referenceImageIds: string[] = [];
  for (const [name, value] of form.fields) {
    if (name === "images" || name === "images[]") {
      urls.push(value);
      continue;
    }
    if (name === "referenceImageIds" || name === "referenceImageIds[]") {
      referenceImageIds.push(value.trim());
      continue;
    }
    if (!MULTIPART_TEXT_FIELDS.has(name)) throw new ApiError("invalid_request", `Unknown field "${name}".`);
    if (name in fields) throw new ApiError("invalid_request", `Field "${name}" is given twice.`);
    fields[name] = multipartValue(name, value);
  }
  const parts = form.files.filter((file) => {
    if (file.name === "images" || file.name === "images[]") return true;
    throw new ApiError("invalid_request", `Field "${file.name}" must be text.`);
  });
  validateImageCount(
    urls.length + parts.length + referenceImageIds.length + (fields.sourceTaskId ? 1 : 0),
    MAX_IMAGES_PER_REQUEST,
  );
  const parsed = generateFieldsSchema.parse({
    ...fields,
    ...(urls.length > 0 && { images: urls }),
    ...(referenceImageIds.length > 0 && { referenceImageIds }),
  });
  const files: HashedFile[] = [];
  for (const part of parts) {
    const checked = await validateImageFile(
      { data: part.data, name: part.filename, declaredType: part.mimeType },
      { maxBytes: limits.maxUploadBytes, maxPixels: limits.maxPixels },
    );
    // A view of the spooled file under the detected type: no bytes are copied — unless the photo
    // is turned (EXIF orientation), when KIE and our copy get it upright.
    const data =
      checked.orientation > 1
        ? new Blob(
            [
              (await uprightImage(
                new Uint8Array(await part.data.arrayBuffer()),
                checked.mimeType,
              )) as Uint8Array<ArrayBuffer>,
            ],
            {
              type: checked.mimeType,
            },
          )
        : part.data.slice(0, part.data.size, checked.mimeType);
    files.push({ file: { data, mimeType: checked.mimeType }, sha256: part.sha256 });
  }
  return finish(parsed, parsed.images ?? [], files, limits.models);
}

/** A local image, with the hash of its bytes for the request's fingerprint. */
interface HashedFile {
  file: LocalImageFile;
  sha256: string;
}

/**
 * A data URI's decoded image, hashed while the bytes are at hand and handed on as a Blob made
 * straight from them (multipart files are spooled to disk and hashed there instead).
 */
function hashedFile(bytes: Uint8Array, mimeType: string): HashedFile {
  // The bytes come from our own parsers, never from a SharedArrayBuffer (which Blob would refuse).
  const data = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mimeType });
  return { file: { data, mimeType }, sha256: sha256Hex(bytes) };
}

function finish(
  {
    n,
    referenceImageIds = [],
    ...fields
  }: ImageGenerationRequest & { n?: number; referenceImageIds?: string[] },
  urls: string[],
  hashed: HashedFile[],
  models: DefaultModels | undefined,
): Omit<ParsedGenerateRequest, "retain" | "dispose"> {
  const files = hashed.map((entry) => entry.file);
  const imageCount =
    imageCountOf({ images: urls, sourceTaskId: fields.sourceTaskId }, files.length) +
    referenceImageIds.length;
  validateImageCount(imageCount, MAX_IMAGES_PER_REQUEST);
  if (urls.some((url) => url.length > MAX_IMAGE_URL_LENGTH)) {
    throw new ApiError("invalid_request", `An image URL is longer than ${MAX_IMAGE_URL_LENGTH} characters.`);
  }
  const problem = modelImageProblem(fields.model, imageCount);
  if (problem) throw new ApiError("invalid_request", `The request is invalid: model: ${problem}.`);
  // An option the model lacks (resolution on nano-banana, say) is a 400 naming it.
  if (models) chooseModel(fields, imageCount, models);
  const request: ImageGenerationRequest = { ...fields, images: urls.length > 0 ? urls : undefined };
  const fileHashes = hashed.map((entry) => entry.sha256);
  const count = n ?? 1;
  // n is in the fingerprint only when asked for, so a key's fingerprint for n = 1 is as before.
  const fingerprint = requestFingerprint({
    request,
    files: fileHashes,
    ...(count > 1 && { n: count }),
    ...(referenceImageIds.length > 0 && { referenceImageIds }),
  });
  return { request, count, referenceImageIds, files, fingerprint };
}
