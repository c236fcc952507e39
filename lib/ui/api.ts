/**
 * Browser-side calls to our own API. Every failure becomes an ApiProblem carrying the §3 error
 * code, so the UI can say what happened in plain words (errors.ts) and never shows raw JSON.
 */
import type { BatchAccepted, CreatedApiKey, GenerationDetail, Job } from "./types";

export class ApiProblem extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly retryAfterSeconds?: number,
    readonly taskId?: string,
  ) {
    super(message);
    this.name = "ApiProblem";
  }
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; retryAfterSeconds?: unknown; taskId?: unknown };
}

/** Reads a response as JSON, turning a §3 error (or anything unreadable) into an ApiProblem. */
export async function readApi<T>(response: Response): Promise<T> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (response.ok && body && typeof body === "object") return body as T;
  const error = (body as ErrorBody | undefined)?.error;
  const retryHeader = Number(response.headers.get("retry-after"));
  throw new ApiProblem(
    typeof error?.code === "string" ? error.code : response.ok ? "bad_response" : `http_${response.status}`,
    typeof error?.message === "string" ? error.message : "",
    response.status,
    typeof error?.retryAfterSeconds === "number"
      ? error.retryAfterSeconds
      : Number.isFinite(retryHeader) && retryHeader > 0
        ? retryHeader
        : undefined,
    typeof error?.taskId === "string" ? error.taskId : undefined,
  );
}

/** A network failure (offline, server restarting) is a problem too, with its own code. */
export async function callApi<T>(input: string, init?: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(input, { cache: "no-store", credentials: "same-origin", ...init });
  } catch (error) {
    if ((error as Error)?.name === "AbortError") throw error;
    throw new ApiProblem("network_error", "", 0);
  }
  return readApi<T>(response);
}

export interface GenerateInput {
  prompt: string;
  model?: string;
  aspectRatio: string;
  /** Only for models that have a format choice (the server refuses it otherwise). */
  outputFormat?: string;
  /** Only for models that have it (the server refuses it otherwise). */
  resolution?: string;
  googleSearch?: boolean;
  /** "Edit this image": one of the user's own results, used by the server from its store (no upload). */
  sourceTaskId?: string;
  /** "Images": how many variations (1–4); more than one is answered as a batch. */
  n?: number;
  /** "Run again": reference images uploaded before, by their stored ids (no upload). */
  referenceImageIds?: string[];
  /** "Run again": the seed the job was asked with. */
  randomSeed?: number;
  files: File[];
  /** Image links (https) pasted or dropped in: sent as they are, KIE fetches them. */
  urls?: string[];
}

/** A job's stored request (its `request`: a POST /api/generate body) as the studio submits it again. */
export function inputFromRequest(request: NonNullable<Job["request"]>): GenerateInput {
  return {
    prompt: request.prompt,
    model: request.model,
    // None asked (the model's default, not sent to KIE): none sent again.
    aspectRatio: request.aspectRatio ?? "",
    outputFormat: request.outputFormat,
    resolution: request.resolution,
    googleSearch: request.googleSearch,
    sourceTaskId: request.sourceTaskId,
    n: request.n,
    referenceImageIds: request.referenceImageIds,
    urls: request.images,
    randomSeed: request.randomSeed,
    files: [],
  };
}

/** The model options of a request, only those that are set. */
function modelFields(input: GenerateInput): Record<string, string | boolean> {
  return {
    ...(input.model && { model: input.model }),
    ...(input.outputFormat && { outputFormat: input.outputFormat }),
    ...(input.resolution && { resolution: input.resolution }),
    ...(input.googleSearch !== undefined && { googleSearch: input.googleSearch }),
    ...(input.sourceTaskId && { sourceTaskId: input.sourceTaskId }),
    ...(input.n !== undefined && input.n > 1 && { n: String(input.n) }),
  };
}

export type GenerateAccepted = Job & { statusUrl?: string };

/** The answer to a submission: one job, or (`n` > 1) the batch of them. */
export type GenerateAnswer = GenerateAccepted | BatchAccepted;

export function isBatch(answer: GenerateAnswer): answer is BatchAccepted {
  return Array.isArray((answer as BatchAccepted).generations);
}

/**
 * POST /api/generate, always async (`Prefer: respond-async`): the browser follows the job itself.
 * JSON without files, multipart with them. `idempotencyKey` is one per submission.
 */
export function submitGeneration(input: GenerateInput, idempotencyKey: string): Promise<GenerateAnswer> {
  const headers: Record<string, string> = { prefer: "respond-async", "idempotency-key": idempotencyKey };
  let body: BodyInit;
  const urls = input.urls ?? [];
  if (input.files.length === 0) {
    headers["content-type"] = "application/json";
    const { n, ...fields } = modelFields(input);
    body = JSON.stringify({
      prompt: input.prompt,
      ...fields,
      ...(n !== undefined && { n: Number(n) }),
      ...(input.aspectRatio && { aspectRatio: input.aspectRatio }),
      ...(urls.length > 0 && { images: urls }),
      ...(input.referenceImageIds?.length && { referenceImageIds: input.referenceImageIds }),
      ...(input.randomSeed !== undefined && { randomSeed: input.randomSeed }),
    });
  } else {
    const form = new FormData();
    form.set("prompt", input.prompt);
    if (input.aspectRatio) form.set("aspectRatio", input.aspectRatio);
    for (const [name, value] of Object.entries(modelFields(input))) form.set(name, String(value));
    for (const id of input.referenceImageIds ?? []) form.append("referenceImageIds", id);
    for (const url of urls) form.append("images", url);
    if (input.randomSeed !== undefined) form.set("randomSeed", String(input.randomSeed));
    for (const file of input.files) form.append("images", file, file.name);
    body = form;
  }
  return callApi<GenerateAnswer>("/api/generate", { method: "POST", headers, body });
}

export interface GenerationsPage {
  generations: Job[];
  nextCursor: string | null;
}

export function fetchGenerations(cursor?: string | null, signal?: AbortSignal): Promise<GenerationsPage> {
  const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
  return callApi<GenerationsPage>(`/api/generations${query}`, { signal });
}

/** DELETE /api/generations/:taskId: the owner deletes a finished job and its stored files. */
export function deleteGeneration(taskId: string): Promise<{ taskId: string; deleted: true }> {
  return callApi(`/api/generations/${encodeURIComponent(taskId)}`, { method: "DELETE" });
}

/** GET /api/generations/:taskId: one of the user's jobs with its parent and its edits. */
export function fetchGeneration(taskId: string, signal?: AbortSignal): Promise<GenerationDetail> {
  return callApi(`/api/generations/${encodeURIComponent(taskId)}`, { signal });
}

/** POST /api/keys: a new personal API key, its secret shown this once. */
export function createApiKey(name: string): Promise<CreatedApiKey> {
  return callApi<CreatedApiKey>("/api/keys", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
}

/** DELETE /api/keys/:id: the key is refused from its next request on. */
export async function revokeApiKey(id: string): Promise<void> {
  await callApi(`/api/keys/${encodeURIComponent(id)}`, { method: "DELETE" });
}
