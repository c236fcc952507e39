/**
 * KIE as an image provider: adapts the client (generateImage, getTaskStatus, uploadFile) and
 * KIE's errors and callback parser to lib/generation's provider port (lib/generation/provider.ts).
 * lib/kie imports nothing from lib/generation: the object returned here satisfies the port
 * structurally, and lib/app.ts checks that where it wires it in.
 */
import type { ImageGenerationRequest, ModelChoice } from "@/lib/catalog";
import { parseKieCallback, type TaskRecord, type TaskState } from "./dto";
import { isAmbiguousCreateFailure, KieError, RateLimitError, TaskFailedError } from "./errors";
import type { IKieClient } from "./KieClient";
import type { KieCallOptions } from "./types";

/** Where the inputs of an edit are uploaded at KIE (KIE deletes them after ~3 days). */
export const KIE_UPLOAD_PATH = "nano-banana-studio/uploads";

/** KIE's states in the port's neutral words. */
const NEUTRAL_STATE = {
  pending: "unrecorded", // "recordInfo is null": KIE has not written the record yet
  waiting: "waiting",
  unknown: "waiting", // a state KIE added since: treated as still going
  queuing: "running",
  generating: "running",
  success: "succeeded",
  fail: "failed",
} as const satisfies Record<TaskState, string>;

function toNeutralTask(record: TaskRecord) {
  return {
    taskId: record.taskId,
    state: NEUTRAL_STATE[record.state],
    providerState: record.rawState ?? record.state,
    resultUrls: record.resultUrls,
    failCode: record.failCode,
    failMessage: record.failMsg,
    callBackUrl: record.callBackUrl,
    durationMs: kieDurationMs(record),
    // Only a real amount: a negative or non-finite one is not what KIE charged.
    providerCredits:
      record.creditsConsumed !== undefined && record.creditsConsumed >= 0
        ? record.creditsConsumed
        : undefined,
  };
}

/** Epoch milliseconds before this are not KIE's timestamps (seconds, or a zero-ish placeholder). */
const EPOCH_MS_FROM = 1e12; // 2001-09-09T01:46:40Z
/** No task runs longer: a bigger difference is a broken record. */
const LONGEST_TASK_MS = 60 * 60 * 1000;

/**
 * KIE's own duration of an ended task: `completeTime − createTime`, both epoch ms. Missing, null
 * or 0 times (a running task has no completeTime), seconds instead of milliseconds, or a
 * difference that is not a plausible duration all give undefined: better to learn nothing.
 */
export function kieDurationMs(record: Pick<TaskRecord, "createTime" | "completeTime">): number | undefined {
  const { createTime, completeTime } = record;
  if (createTime === undefined || completeTime === undefined) return undefined;
  if (createTime < EPOCH_MS_FROM || completeTime < EPOCH_MS_FROM) return undefined;
  const durationMs = completeTime - createTime;
  return durationMs > 0 && durationMs <= LONGEST_TASK_MS ? durationMs : undefined;
}

/** The client's methods the adapter uses (its public surface only). */
export type KieProviderClient = Pick<IKieClient, "generateImage" | "getTaskStatus" | "uploadFile">;

export function createKieProvider(client: KieProviderClient) {
  return {
    async createTask(
      input: {
        request: ImageGenerationRequest;
        model: ModelChoice;
        imageUrls: string[];
        callBackUrl?: string;
      },
      options: KieCallOptions,
    ): Promise<{ taskId: string; warnings: string[] }> {
      const { taskId, warnings } = await client.generateImage(
        {
          ...input.request,
          model: input.model.kieModel,
          resolution: input.model.resolution,
          images: undefined,
          imageUrls: input.imageUrls,
        },
        { ...options, callBackUrl: input.callBackUrl },
      );
      return { taskId, warnings };
    },
    async readTask(taskId: string, options: KieCallOptions) {
      return toNeutralTask(await client.getTaskStatus(taskId, options));
    },
    async uploadFile(
      file: { data: Blob; mimeType: string; fileName?: string },
      options: KieCallOptions,
    ): Promise<{ url: string }> {
      const uploaded = await client.uploadFile(
        { data: file.data, mimeType: file.mimeType, fileName: file.fileName },
        { ...options, uploadPath: KIE_UPLOAD_PATH },
      );
      return { url: uploaded.downloadUrl };
    },
    parseCallback(body: unknown): { ok: true; taskId: string } | { ok: false } {
      const parsed = parseKieCallback(body);
      return parsed.ok ? { ok: true, taskId: parsed.taskId } : { ok: false };
    },
    isAmbiguousCreateFailure,
    /** KIE's 429 (rejected, not queued): the pause it asks for, its Retry-After or 10 s. */
    isRateLimited(error: unknown): number | undefined {
      return error instanceof RateLimitError ? error.pauseMs : undefined;
    },
    /** A timeout, a network error or a 5xx (anything but a KIE refusal such as 404 or 422). */
    isProviderFailing(error: unknown): boolean {
      return !(error instanceof KieError) || error.retryable;
    },
    describeError(error: unknown): string | undefined {
      if (error instanceof TaskFailedError) return error.failMsg ?? error.message;
      if (error instanceof KieError)
        return `${error.endpoint}: ${error.kind}${error.code ? ` (${error.code})` : ""}`;
      return undefined;
    },
  };
}
