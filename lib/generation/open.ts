/**
 * The steps of a create before anything reaches KIE (DESIGN.md §4, docs/JOBS.md "Life of a job"):
 * price the request and write its jobs and their reserves in one transaction, upload the local
 * files once for all of them, and build each job's createTask.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { chooseModel, type ModelChoice, priceOf } from "@/lib/catalog";
import { reserve } from "@/lib/credits";
import { insertGeneration } from "@/lib/db/generations";
import { attachIdempotencyJob } from "@/lib/db/idempotency";
import type { Generation } from "@/lib/db/schema";
import type { Logger } from "@/lib/observability/logger";
import { callbackUrl, hashToken } from "./callbacks";
import { callbacksEnabled, type GenerationContext } from "./context";
import { IdempotencyClaimLostError } from "./errors";
import type { QueuedSubmit } from "./line";
import { referenceImageId } from "./references";
import type { CreateGenerationInput } from "./types";

/** A job row written, its credits reserved, nothing sent to KIE yet. */
export interface OpenedJob {
  jobId: string;
  /** The row as inserted, and when (this process's clock). */
  row: Generation;
  openedAt: number;
  choice: ModelChoice;
  /** The secret in the job's callBackUrl (only its hash is stored); none without APP_URL. */
  callbackToken?: string;
  /** The balance right after the whole batch was reserved. */
  remaining: number;
  log: Logger;
}

/**
 * Prices the request and writes its `input.count` jobs (one batch) and their reserves in one
 * transaction, before anything reaches KIE (§4): the balance must cover the whole batch, or the
 * transaction rolls back and nothing is charged (402). Each job has its own reserve (the ledger's
 * per-job keys make every capture and release idempotent on its own). The Idempotency-Key claim
 * records the batch's first job in the same transaction: a retry answers from the batch.
 * Throws (a 400 naming the field) for an option the model lacks: nothing reserved, no KIE call.
 */
export async function openJobs(ctx: GenerationContext, input: CreateGenerationInput): Promise<OpenedJob[]> {
  const log = ctx.logger.child({ userId: input.userId });
  const { request } = input;
  const count = input.count ?? 1;
  const imageCount = (request.images?.length ?? 0) + input.files.length;
  const choice = chooseModel(request, imageCount, ctx.settings);
  const model = choice.kieModel;
  const prices = { perGeneration: ctx.settings.costPerGeneration, byModel: ctx.settings.modelCredits ?? {} };
  const cost = priceOf(prices, choice);

  await ctx.accounts.ensure(input.userId, input.email);

  const batchId = randomUUID();
  const planned = Array.from({ length: count }, () => ({
    jobId: randomUUID(),
    callbackToken: callbacksEnabled(ctx) ? randomBytes(32).toString("base64url") : undefined,
  }));
  const asked = storedRequestOf(ctx, input, choice, planned[0]?.jobId as string);
  const { rows, remaining } = await ctx.db.transaction(async (tx) => {
    const inserted: Generation[] = [];
    let left = 0;
    for (const [batchIndex, { jobId, callbackToken }] of planned.entries()) {
      inserted.push(
        await insertGeneration(tx, {
          id: jobId,
          userId: input.userId,
          type: imageCount > 0 ? "image_edit" : "text_to_image",
          model,
          prompt: request.prompt,
          params: {
            aspectRatio: choice.aspectRatio,
            resolution: choice.resolution,
            googleSearch: request.googleSearch,
            outputFormat: request.outputFormat,
            randomSeed: request.randomSeed,
            imageUrls: request.images ?? [],
            uploadedImages: input.files.length,
            ...(input.parent && { parentTaskId: input.parent.taskId }),
            ...(count > 1 && { batchIndex, batchSize: count }),
            request: asked,
          },
          parentId: input.parent?.id,
          batchId,
          cost,
          callbackTokenHash: callbackToken ? hashToken(callbackToken) : null,
          idempotencyKey: input.idempotencyKey,
          requestId: input.requestId,
        }),
      );
      // InsufficientCreditsError here (the balance ran out within the batch) rolls all of it back.
      left = (await reserve(tx, { userId: input.userId, cost, generationId: jobId })).remaining;
    }
    // A claim taken over meanwhile rolls everything back: its new holder answers for the key.
    const attached =
      !input.idempotencyClaim ||
      (await attachIdempotencyJob(tx, {
        userId: input.userId,
        ...input.idempotencyClaim,
        generationId: planned[0]?.jobId as string,
      }));
    if (!attached) throw new IdempotencyClaimLostError();
    return { rows: inserted, remaining: left };
  });
  const openedAt = ctx.now();
  return rows.map((row, index) => {
    ctx.observer?.reserved(cost);
    log.info(
      { jobId: row.id, batchId, model, cost, remaining, mode: input.mode },
      "generation accepted, credits reserved",
    );
    const { callbackToken } = planned[index] as { callbackToken?: string };
    return { jobId: row.id, row, openedAt, choice, callbackToken, remaining, log };
  });
}

/**
 * What the job was asked, as a POST /api/generate body that asks it again exactly (DESIGN.md §3
 * "Run again"): the model, ratio and resolution as priced and sent, the options, the URLs, the
 * source job, and the local images by the ids of the copies stored under the batch's first job
 * (`<jobId>.<index>`; `files` holds the source's image first). Without a store there are no copies
 * to name: the request then has none (a re-run must upload them again).
 */
function storedRequestOf(
  ctx: GenerationContext,
  input: CreateGenerationInput,
  choice: ModelChoice,
  storedUnder: string,
): Record<string, unknown> {
  const { request } = input;
  const first = input.parent ? 1 : 0;
  const stored = ctx.images
    ? input.files.slice(first).map((_, k) => referenceImageId(storedUnder, k + first))
    : [];
  return {
    prompt: request.prompt,
    model: choice.model.id,
    ...(choice.aspectRatio && { aspectRatio: choice.aspectRatio }),
    ...(choice.resolution && { resolution: choice.resolution }),
    ...(request.outputFormat && { outputFormat: request.outputFormat }),
    ...(request.googleSearch !== undefined && { googleSearch: request.googleSearch }),
    ...(request.randomSeed !== undefined && { randomSeed: request.randomSeed }),
    ...(request.images && request.images.length > 0 && { images: request.images }),
    ...(input.parent && { sourceTaskId: input.parent.taskId }),
    ...(stored.length > 0 && { referenceImageIds: stored }),
    ...((input.count ?? 1) > 1 && { n: input.count }),
  };
}

/**
 * Uploads the request's local files to the provider in parallel; their public URLs, in order (a
 * batch's jobs share them). Our own copies of them (KIE deletes uploads after ~3 days, §9) are
 * made in the background under `jobId`, best effort: createTask never waits for our store. Each
 * reader holds the spooled files until it is done, so a failed upload (which ends this request)
 * never deletes them under the others.
 */
export async function uploadFiles(ctx: GenerationContext, jobId: string, input: CreateGenerationInput) {
  if (input.files.length === 0) return [];
  if (ctx.images) {
    const release = input.retainFiles?.();
    void ctx.images
      .storeInputs(jobId, input.files)
      .catch(() => {}) // best effort, logged inside
      .finally(() => release?.());
  }
  return Promise.all(
    input.files.map(async (file) => {
      const release = input.retainFiles?.();
      try {
        const uploaded = await ctx.provider.uploadFile(
          { data: file.data, mimeType: file.mimeType, fileName: file.fileName },
          { requestId: input.requestId },
        );
        return uploaded.url;
      } finally {
        await release?.();
      }
    }),
  );
}

/** What the job's createTask sends (also kept on a queued row for the drain). */
export function submitOf(
  input: CreateGenerationInput,
  opened: OpenedJob,
  uploadedUrls: string[],
): QueuedSubmit {
  return {
    // The model and resolution that were priced, pinned: the instance that drains the line may
    // have another KIE_MODEL (a rolling config change) and must not send a dearer model.
    request: { ...input.request, model: opened.choice.kieModel, resolution: opened.choice.resolution },
    imageUrls: [...(input.request.images ?? []), ...uploadedUrls],
  };
}

/** Sends createTask (never retried blindly: a failure may still have created the task). */
export async function sendTask(
  ctx: GenerationContext,
  input: CreateGenerationInput,
  opened: OpenedJob,
  submit: QueuedSubmit,
): Promise<{ taskId: string; warnings: string[] }> {
  const { jobId, choice, callbackToken } = opened;
  return ctx.provider.createTask(
    {
      request: input.request,
      model: choice,
      imageUrls: submit.imageUrls,
      callBackUrl: callbackToken
        ? callbackUrl(ctx.settings.appUrl as string, jobId, callbackToken)
        : undefined,
    },
    { requestId: input.requestId },
  );
}

/** The message stored on a job that failed before its task ran. */
export function messageOf(ctx: GenerationContext, error: unknown): string {
  return (
    ctx.provider.describeError(error) ?? (error instanceof Error ? error.message.slice(0, 300) : "failed")
  );
}

/**
 * Only the reconciler settles a job before its task exists, and only once it is KIE_TIMEOUT_MS
 * old: a young job (no slow uploads) need not be read again. Half the timeout covers clock skew.
 */
export function mayHaveTimedOut(ctx: GenerationContext, opened: OpenedJob): boolean {
  return ctx.now() - opened.openedAt >= ctx.settings.jobTimeoutMs / 2;
}
