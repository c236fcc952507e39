/**
 * KIE's answers (kie-api.md): the envelope every answer comes in, a task's record (recordInfo and
 * callbacks) and the callback body. createTask's body is in createTask.ts, uploads in uploads.ts.
 *
 * Responses are parsed leniently where kie-api.md says "tolerate" (lenient.ts): extra fields pass
 * through, odd types in fields we do not depend on become `undefined`, and JSON-in-a-string fields
 * are decoded without ever throwing. Only what we truly need (a task id, an upload URL) is required.
 */
import { z } from "zod";
import { asRecord, codeSchema, lenientNumber, lenientString, nonEmpty } from "./lenient";
import { sanitizeKieText } from "./sanitize";

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
