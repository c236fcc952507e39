/**
 * Shapes of KIE's requests and responses (kie-api.md), and the mappers between them and ours.
 *
 * Responses are parsed leniently where kie-api.md says "tolerate": extra fields pass through,
 * odd types in fields we do not depend on become `undefined`, and JSON-in-a-string fields are
 * decoded without ever throwing. Only what we truly need (a task id, an upload URL) is required.
 *
 * Over 300 lines: the redesign issue ("One home per concept") moves the public request schema out
 * and drops the unused response schemas; not yet done.
 */
import { z } from "zod";
import { type ImageGenerationRequest, resolveModelChoice } from "@/lib/catalog";
import { sanitizeKieText, ValidationError } from "./errors";

// ---------------------------------------------------------------- helpers

/** A value that must not fail the whole parse when KIE sends something odd: it becomes undefined. */
const lenient = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);

const lenientString = lenient(z.string());
/** Epoch ms or any other number KIE may send as a number or a numeric string. */
const lenientNumber = lenient(
  z
    .union([
      z.number(),
      z
        .string()
        .regex(/^-?\d+(\.\d+)?$/)
        .transform(Number),
    ])
    .nullable(),
).transform((v) => v ?? undefined);

/** KIE's codes: numbers, tolerated as numeric strings. */
const codeSchema = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);

/** Decodes a field KIE sends as JSON inside a string. Empty, null or invalid → undefined; never throws. */
export function parseJsonString(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "object") return value;
  if (typeof value !== "string" || value.trim() === "") return undefined;
  try {
    return JSON.parse(value) ?? undefined;
  } catch {
    return undefined;
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function nonEmpty(value: unknown): string | undefined {
  if (typeof value === "number") return String(value);
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

// ---------------------------------------------------------------- envelope

/** `{ code, msg | message, data }`: every JSON answer from KIE. */
export const kieEnvelopeSchema = z.looseObject({
  code: codeSchema,
  msg: lenientString,
  message: lenientString,
  data: z.unknown().optional(),
});

export interface KieEnvelope {
  code: number;
  /** `msg`, or `message` where KIE used that name. Not sanitized. */
  msg?: string;
  data: unknown;
  /** `success` beside `code` on the upload host. */
  success?: boolean;
}

/** Reads KIE's envelope from a parsed JSON body; undefined when the body is not an envelope. */
export function readEnvelope(json: unknown): KieEnvelope | undefined {
  const parsed = kieEnvelopeSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const success = asRecord(json)?.success;
  return {
    code: parsed.data.code,
    msg: parsed.data.msg ?? parsed.data.message,
    data: parsed.data.data ?? null,
    success: typeof success === "boolean" ? success : undefined,
  };
}

// ---------------------------------------------------------------- createTask

export const createTaskRequestSchema = z.object({
  model: z.string().min(1),
  callBackUrl: z.url().optional(),
  input: z.looseObject({ prompt: z.string().min(1) }),
});
export type CreateTaskRequest = z.infer<typeof createTaskRequestSchema>;

export const createTaskDataSchema = z
  .looseObject({ taskId: lenientString, task_id: lenientString })
  .transform((d) => ({ taskId: nonEmpty(d.taskId) ?? nonEmpty(d.task_id) }))
  .pipe(z.object({ taskId: z.string().min(1) }));

// ---------------------------------------------------------------- recordInfo

export const KIE_TASK_STATES = ["waiting", "queuing", "generating", "success", "fail"] as const;
export type KieTaskState = (typeof KIE_TASK_STATES)[number];

/**
 * Our view of a KIE task. `pending` = KIE has not written the record yet ("recordInfo is null");
 * `unknown` = KIE sent a state we do not know (`rawState`): treat it as still running.
 */
export type TaskState = "pending" | KieTaskState | "unknown";

export interface TaskRecord {
  taskId: string;
  state: TaskState;
  /** The state string exactly as KIE sent it, when it sent one. */
  rawState?: string;
  /** Result image URLs (KIE-hosted, expiring: copy them soon). Empty until success. */
  resultUrls: string[];
  /** Non-URL result of a text model (`resultJson.resultObject`). */
  resultObject?: unknown;
  failCode?: string;
  /** KIE's failure message, sanitized (no secrets, no control characters, capped). */
  failMsg?: string;
  /** From `param`: the callBackUrl the task was created with (names our job). */
  callBackUrl?: string;
  model?: string;
  /** `param` decoded: the createTask body KIE recorded. */
  param?: Record<string, unknown>;
  createTime?: number;
  updateTime?: number;
  completeTime?: number;
  /** Unit differs between KIE's pages; informational only. */
  costTime?: number;
  creditsConsumed?: number;
  progress?: number;
}

export const recordInfoDataSchema = z.looseObject({
  taskId: lenientString,
  task_id: lenientString,
  model: lenientString,
  state: lenientString,
  param: z.unknown().optional(),
  resultJson: z.unknown().optional(),
  resultUrls: z.unknown().optional(),
  failCode: z.unknown().optional(),
  failMsg: z.unknown().optional(),
  costTime: lenientNumber,
  createTime: lenientNumber,
  updateTime: lenientNumber,
  completeTime: lenientNumber,
  creditsConsumed: lenientNumber,
  progress: lenientNumber,
});
export type RecordInfoData = z.infer<typeof recordInfoDataSchema>;

/** `{"code": 422, "msg": "recordInfo is null", "data": null}`: the task exists, its record does not yet. */
export function isRecordNotYetWritten(envelope: KieEnvelope | undefined): boolean {
  return (
    envelope !== undefined &&
    envelope.code === 422 &&
    (envelope.data === null || envelope.data === undefined) &&
    /recordinfo is null/i.test(envelope.msg ?? "")
  );
}

function resultUrlsFrom(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((u): u is string => typeof u === "string" && /^https?:\/\//i.test(u));
}

export interface ToTaskRecordOptions {
  /** Used when the data carries no task id (we know which task we asked about). */
  taskId?: string;
  /** Strings to blank out of KIE's failure message (the API key). */
  secrets?: readonly string[];
}

/** Normalizes recordInfo's (or a callback's) `data` into a TaskRecord. Never throws. */
export function toTaskRecord(raw: unknown, options: ToTaskRecordOptions = {}): TaskRecord {
  const parsed = recordInfoDataSchema.safeParse(raw ?? {});
  const data: Partial<RecordInfoData> = parsed.success ? parsed.data : {};
  const rawState = nonEmpty(data.state);
  const known = rawState?.toLowerCase() as KieTaskState | undefined;
  const state: TaskState = known && KIE_TASK_STATES.includes(known) ? known : "unknown";

  const result = asRecord(parseJsonString(data.resultJson));
  const param = asRecord(parseJsonString(data.param));
  const resultUrls = resultUrlsFrom(result?.resultUrls);

  const record: TaskRecord = {
    taskId: nonEmpty(data.taskId) ?? nonEmpty(data.task_id) ?? options.taskId ?? "",
    state,
    resultUrls: resultUrls.length > 0 ? resultUrls : resultUrlsFrom(data.resultUrls),
  };
  if (rawState !== undefined) record.rawState = rawState;
  if (result && "resultObject" in result) record.resultObject = result.resultObject;
  const failCode = nonEmpty(data.failCode);
  if (failCode !== undefined) record.failCode = failCode;
  const failMsg = sanitizeKieText(nonEmpty(data.failMsg), options.secrets);
  if (failMsg !== undefined) record.failMsg = failMsg;
  if (param) {
    record.param = param;
    const callBackUrl = nonEmpty(param.callBackUrl);
    if (callBackUrl !== undefined) record.callBackUrl = callBackUrl;
  }
  const model = nonEmpty(data.model) ?? nonEmpty(param?.model);
  if (model !== undefined) record.model = model;
  for (const key of [
    "createTime",
    "updateTime",
    "completeTime",
    "costTime",
    "creditsConsumed",
    "progress",
  ] as const) {
    const value = data[key];
    if (typeof value === "number" && Number.isFinite(value)) record[key] = value;
  }
  return record;
}

// ---------------------------------------------------------------- callback

/** KIE's completion callback body (kie-api.md "Callback"). Documented codes: 200 and 501. */
export const kieCallbackSchema = z.looseObject({
  code: codeSchema,
  msg: lenientString,
  message: lenientString,
  data: z.looseObject({ taskId: lenientString, task_id: lenientString }),
});

export type ParsedKieCallback =
  | { ok: true; taskId: string; code: number; msg?: string; record: TaskRecord }
  | { ok: false; problem: string };

/**
 * Reads a callback body. Only the task id should be trusted (and only after the per-job token
 * check): the record is a hint, the handler re-reads the task with recordInfo.
 */
export function parseKieCallback(body: unknown, secrets: readonly string[] = []): ParsedKieCallback {
  const parsed = kieCallbackSchema.safeParse(body);
  if (!parsed.success) return { ok: false, problem: "not a KIE callback body ({ code, msg, data })" };
  const taskId = nonEmpty(parsed.data.data.taskId) ?? nonEmpty(parsed.data.data.task_id);
  if (!taskId) return { ok: false, problem: "callback carries no taskId" };
  const record = toTaskRecord(parsed.data.data, { taskId, secrets });
  if (record.state === "unknown" && record.rawState === undefined) {
    // A callback is only sent when the task ended; its code says how.
    if (parsed.data.code === 200) record.state = "success";
    else if (parsed.data.code === 501) record.state = "fail";
  }
  return {
    ok: true,
    taskId,
    code: parsed.data.code,
    msg: sanitizeKieText(parsed.data.msg ?? parsed.data.message, secrets),
    record,
  };
}

// ---------------------------------------------------------------- uploads (upload host)

export interface UploadedFile {
  /** Public URL of the uploaded file (deleted by KIE after about 3 days). */
  downloadUrl: string;
  fileName?: string;
  filePath?: string;
  fileSize?: number;
  mimeType?: string;
}

const httpUrlString = z.string().regex(/^https?:\/\//i);

export const uploadDataSchema = z
  .looseObject({
    downloadUrl: lenient(httpUrlString),
    fileUrl: lenient(httpUrlString),
    url: lenient(httpUrlString),
    fileName: lenientString,
    originalName: lenientString,
    filePath: lenientString,
    fileSize: lenientNumber,
    mimeType: lenientString,
  })
  .transform((d) => ({ ...d, downloadUrl: d.downloadUrl ?? d.fileUrl ?? d.url }))
  .refine((d) => d.downloadUrl !== undefined, { error: "upload answer has no downloadUrl/fileUrl/url" });

/** Normalizes the `data` of an upload answer; undefined when it names no URL. */
export function toUploadedFile(raw: unknown): UploadedFile | undefined {
  const parsed = uploadDataSchema.safeParse(raw);
  if (!parsed.success || !parsed.data.downloadUrl) return undefined;
  const d = parsed.data;
  const file: UploadedFile = { downloadUrl: d.downloadUrl as string };
  const fileName = d.fileName ?? d.originalName;
  if (fileName) file.fileName = fileName;
  if (d.filePath) file.filePath = d.filePath;
  if (d.fileSize !== undefined) file.fileSize = d.fileSize;
  if (d.mimeType) file.mimeType = d.mimeType;
  return file;
}

// ---------------------------------------------------------------- request → createTask body

export type CreateTaskInput = ImageGenerationRequest & {
  /** Public URLs of the request's images, already uploaded; used instead of `images`. */
  imageUrls?: string[];
};

export interface CreateTaskBodyOptions {
  /** Model used when the request names none and has no images (config KIE_MODEL). */
  textModel: string;
  /** Model used when the request names none and has images (config KIE_EDIT_MODEL). */
  editModel: string;
  callBackUrl?: string;
}

export interface CreateTaskBody {
  body: CreateTaskRequest;
  model: string;
  warnings: string[];
}

export const SEED_NOT_SENT_WARNING =
  "randomSeed was stored but not sent: KIE's Nano Banana API has no seed parameter, so results are not reproducible";

function preflight(message: string): ValidationError {
  return new ValidationError({ endpoint: "createTask", message: `Invalid generation request: ${message}` });
}

/**
 * Maps our request to KIE's createTask body through the catalogue (lib/catalog): which KIE model
 * (text or edit), and each input under that model's own field names and spellings. Throws
 * ValidationError (with no `code`: KIE was not called) when the request cannot be sent as asked.
 */
export function toCreateTaskBody(request: CreateTaskInput, options: CreateTaskBodyOptions): CreateTaskBody {
  const warnings: string[] = [];
  const images = request.imageUrls ?? request.images ?? [];
  if (images.some((url) => !/^https?:\/\//i.test(url))) {
    throw preflight("images must be uploaded first; pass their public URLs as imageUrls");
  }
  const resolved = resolveModelChoice(request, images.length, options);
  if (!resolved.ok) throw preflight(resolved.issues.map((issue) => issue.message).join("; "));
  const { model: entry, kieModel: model, resolution } = resolved.choice;
  const kie = entry.kie;

  const prompt = request.prompt.trim();
  if (prompt === "") throw preflight("prompt must not be blank");
  if (prompt.length > kie.promptMaxChars) {
    throw preflight(`prompt must be at most ${kie.promptMaxChars} characters for ${model}`);
  }

  const input: CreateTaskRequest["input"] = { prompt };
  if (images.length > 0) {
    if (images.length > kie.images.max) throw preflight(`${model} takes at most ${kie.images.max} images`);
    input[kie.images.field] = [...images];
  }
  if (request.aspectRatio !== undefined) input[kie.aspectField] = request.aspectRatio;
  // Always sent where the model has it: the resolution produced is the one that was priced.
  if (resolution !== undefined && kie.resolutionField) input[kie.resolutionField] = resolution;
  if (request.googleSearch !== undefined && kie.googleSearchField) {
    input[kie.googleSearchField] = request.googleSearch;
  }
  if (request.outputFormat !== undefined) input.output_format = kie.outputFormat[request.outputFormat];
  if (request.randomSeed !== undefined) warnings.push(SEED_NOT_SENT_WARNING);

  const body: CreateTaskRequest = { model, input };
  if (options.callBackUrl) body.callBackUrl = options.callBackUrl;
  return { body, model, warnings };
}
