/**
 * The create use case (DESIGN.md §4, docs/JOBS.md "Life of a job"): price the request, write the
 * job row and its reserve together, upload the local files, send createTask, then answer at once
 * (async) or wait for the job within KIE_POLL_BUDGET_MS (sync).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { chooseModel, type ModelChoice, priceOf } from "@/lib/catalog";
import { balance, reserve } from "@/lib/credits";
import { findGeneration, insertGeneration } from "@/lib/db/generations";
import { attachIdempotencyJob, detachIdempotencyJob } from "@/lib/db/idempotency";
import type { Generation } from "@/lib/db/schema";
import type { Logger } from "@/lib/observability/logger";
import { settleJob } from "./apply";
import { callbackUrl, hashToken } from "./callbacks";
import { callbacksEnabled, type GenerationContext, pollAfterMs, viewOf } from "./context";
import { JobInDoubtError, JobUnansweredError } from "./errors";
import { checkRoomInLine, enterLine, mustWaitInLine, type QueuedSubmit, viewWithPlace } from "./line";
import { backInLine, pauseForRateLimit, recordCreatedTask } from "./submit";
import type { CreateGenerationInput, CreateGenerationResult } from "./types";
import { waitForJob } from "./wait";
import { isOpen } from "./watch";

/** A job row written, its credits reserved, nothing sent to KIE yet. */
interface OpenedJob {
  jobId: string;
  /** The row as inserted, and when (this process's clock). */
  row: Generation;
  openedAt: number;
  choice: ModelChoice;
  /** The secret in the job's callBackUrl (only its hash is stored); none without APP_URL. */
  callbackToken?: string;
  remaining: number;
  log: Logger;
}

export async function create(
  ctx: GenerationContext,
  input: CreateGenerationInput,
): Promise<CreateGenerationResult> {
  // A sync request answers within KIE_POLL_BUDGET_MS of its arrival, uploads and createTask included.
  const deadline = ctx.now() + ctx.settings.pollBudgetMs;
  await checkRoomInLine(ctx); // a full line refuses before anything is reserved
  const opened = await openJob(ctx, input);
  const { jobId, log } = opened;
  const failBeforeKie = async (error: unknown, errorCode: string): Promise<never> => {
    await settleJob(ctx, jobId, { status: "failed", errorCode, errorMessage: messageOf(ctx, error) });
    await freeIdempotencyKey(ctx, input, jobId, log);
    throw error;
  };

  if (input.admit) await input.admit().catch((error) => failBeforeKie(error, "rate_limited"));

  const uploadedUrls = await uploadFiles(ctx, jobId, input).catch((error) =>
    failBeforeKie(error, "upstream_error"),
  );

  if (mayHaveTimedOut(ctx, opened)) {
    const settledMeanwhile = await settledBeforeCreate(ctx, jobId, input.userId, log);
    if (settledMeanwhile) return settledMeanwhile;
  }

  const submit: QueuedSubmit = {
    // The model and resolution that were priced, pinned: the instance that drains the line may
    // have another KIE_MODEL (a rolling config change) and must not send a dearer model.
    request: { ...input.request, model: opened.choice.kieModel, resolution: opened.choice.resolution },
    imageUrls: [...(input.request.images ?? []), ...uploadedUrls],
  };
  // The job exists from here on, in line or at KIE: an error answers with its id, and the
  // idempotency claim keeps the job, so a same-key retry answers from it instead of paying again.
  const unanswered = (error: unknown): never => {
    throw new JobUnansweredError(jobId, { cause: error });
  };
  // A failed look at the budget must not strand the job unsent (reserved until the timeout): the
  // line sends it once the budget answers again.
  const waits = await mustWaitInLine(ctx).catch((error) => {
    log.warn({ jobId, err: error }, "could not take a KIE create token; job waits in line");
    return true;
  });
  if (waits) return waitInLine(ctx, input, opened, submit, deadline).catch(unanswered);

  const created = await sendTask(ctx, input, opened, submit).catch((error) => {
    const pauseMs = ctx.provider.isRateLimited(error);
    if (pauseMs !== undefined) {
      // The job goes back to the head of the line (it keeps its arrival time).
      return pauseForRateLimit(ctx, jobId, pauseMs)
        .then(() => backInLine(ctx, jobId, () => enterLine(ctx, jobId, submit, { atHead: true })))
        .then(() => undefined, unanswered);
    }
    if (ctx.provider.isAmbiguousCreateFailure(error) && callbacksEnabled(ctx)) {
      // KIE may have created (and will charge for) the task: its callback can still attach it;
      // otherwise the reconciler releases the credits after KIE_TIMEOUT_MS.
      log.warn({ jobId, err: error }, "createTask failed ambiguously; job left pending for its callback");
      throw new JobInDoubtError(jobId, { cause: error });
    }
    return failBeforeKie(error, "upstream_error");
  });
  // KIE refused with 429 (nothing created): the job is back in line, at its head.
  if (!created) return answerFromLine(ctx, input, opened, deadline).catch(unanswered);
  log.info({ jobId, kieTaskId: created.taskId }, "KIE task created");
  // From here the job exists at KIE (and may be paid for): an error answers with its taskId, and
  // the idempotency claim keeps the job, so a same-key retry answers from it instead of paying again.
  return answerCreated(ctx, input, opened, created, deadline).catch((error) => {
    throw error instanceof JobUnansweredError
      ? error
      : new JobUnansweredError(created.taskId, { cause: error });
  });
}

/** The answer once createTask succeeded: the job accepted (async), or as it ended or stood at the deadline (sync). */
async function answerCreated(
  ctx: GenerationContext,
  input: CreateGenerationInput,
  opened: OpenedJob,
  created: { taskId: string; warnings: string[] },
  deadline: number,
): Promise<CreateGenerationResult> {
  const { jobId } = opened;
  const attached = await recordCreatedTask(ctx, jobId, created).catch((error) => {
    // KIE's task id is on no row (a callback may still adopt it): only the job's own id finds it.
    throw new JobUnansweredError(jobId, { cause: error });
  });
  // The row as attached, without reading it back; a callback that adopted the task first (or a
  // job old enough to have been timed out) is read. createTask's warnings are on the row now.
  const job: Generation =
    attached && !mayHaveTimedOut(ctx, opened)
      ? {
          ...opened.row,
          kieTaskId: created.taskId,
          submittedAt: new Date(ctx.now()),
          warnings: [...(opened.row.warnings ?? []), ...created.warnings],
        }
      : ((await findGeneration(ctx.db, jobId)) as Generation);
  if (input.mode === "async") {
    const view = viewOf(ctx, job);
    const pollAfter = pollAfterMs(ctx, job);
    return {
      outcome: "accepted",
      job: view,
      remainingCredits: opened.remaining,
      pollAfterMs: pollAfter,
      warnings: [],
    };
  }

  return waitForSync(ctx, input, opened, job, deadline);
}

/** A sync request waits for its job (in line first, if it is queued) until its deadline. */
async function waitForSync(
  ctx: GenerationContext,
  input: CreateGenerationInput,
  opened: OpenedJob,
  started: Generation,
  deadline: number,
): Promise<CreateGenerationResult> {
  const warnings: string[] = []; // the job's own (createTask's and the result's) are in its view
  const job = await waitForJob(ctx, started, "sync", deadline, input.signal);
  const remainingCredits = (await balance(ctx.db, input.userId)) ?? 0;
  if (isOpen(job)) {
    opened.log.warn(
      { jobId: opened.jobId, budgetMs: ctx.settings.pollBudgetMs },
      "sync wait budget ran out; job continues",
    );
    return { outcome: "budget_exhausted", job: await viewWithPlace(ctx, job), remainingCredits, warnings };
  }
  return { outcome: "settled", job: viewOf(ctx, job), remainingCredits, warnings };
}

/**
 * No create token now (or others are waiting first): the job waits in line, answered at once
 * (async: 202 with its place) or waited for within the sync budget.
 */
async function waitInLine(
  ctx: GenerationContext,
  input: CreateGenerationInput,
  opened: OpenedJob,
  submit: QueuedSubmit,
  deadline: number,
): Promise<CreateGenerationResult> {
  if (!(await enterLine(ctx, opened.jobId, submit))) {
    return (await settledBeforeCreate(ctx, opened.jobId, input.userId, opened.log)) as CreateGenerationResult;
  }
  opened.log.info({ jobId: opened.jobId }, "no KIE create token; job waits in line");
  return answerFromLine(ctx, input, opened, deadline);
}

async function answerFromLine(
  ctx: GenerationContext,
  input: CreateGenerationInput,
  opened: OpenedJob,
  deadline: number,
): Promise<CreateGenerationResult> {
  const job = (await findGeneration(ctx.db, opened.jobId)) as Generation;
  if (input.mode === "sync" || !isOpen(job)) return waitForSync(ctx, input, opened, job, deadline);
  return {
    outcome: "accepted",
    job: await viewWithPlace(ctx, job),
    remainingCredits: opened.remaining,
    pollAfterMs: pollAfterMs(ctx, job),
    warnings: [],
  };
}

/**
 * A job that failed before reaching KIE (credits released): nothing happened that a retry could
 * repeat, so the key's claim lets go of the job and the key is freed for a retry (DESIGN.md §3).
 * Best effort: if this fails, the claim keeps the failed job and a retry answers from it.
 */
async function freeIdempotencyKey(
  ctx: GenerationContext,
  input: CreateGenerationInput,
  jobId: string,
  log: Logger,
): Promise<void> {
  if (!input.idempotencyClaim) return;
  await detachIdempotencyJob(ctx.db, {
    userId: input.userId,
    ...input.idempotencyClaim,
    generationId: jobId,
  }).catch((error) =>
    log.warn({ jobId, err: error }, "could not free the idempotency key of a job that failed before KIE"),
  );
}

/**
 * Only the reconciler settles a job before its task exists, and only once it is KIE_TIMEOUT_MS
 * old: a young job (no slow uploads) need not be read again. Half the timeout covers clock skew.
 */
function mayHaveTimedOut(ctx: GenerationContext, opened: OpenedJob): boolean {
  return ctx.now() - opened.openedAt >= ctx.settings.jobTimeoutMs / 2;
}

/**
 * Slow uploads can outlast KIE_TIMEOUT_MS: if the reconciler has meanwhile timed the job out
 * (credits released), a createTask now would be a paid KIE task for a released job. The answer
 * is then the job as it is; undefined while it is open.
 */
async function settledBeforeCreate(
  ctx: GenerationContext,
  jobId: string,
  userId: string,
  log: Logger,
): Promise<CreateGenerationResult | undefined> {
  const job = (await findGeneration(ctx.db, jobId)) as Generation;
  if (isOpen(job)) return undefined;
  log.warn({ jobId, status: job.status }, "job settled before createTask; not sent");
  const remainingCredits = (await balance(ctx.db, userId)) ?? 0;
  return { outcome: "settled", job: viewOf(ctx, job), remainingCredits, warnings: [] };
}

/**
 * Prices the request and writes the job row and its reserve in one transaction, before anything
 * reaches KIE (§5). Throws (a 400 naming the field) for an option the model lacks: nothing
 * reserved, no KIE call.
 */
async function openJob(ctx: GenerationContext, input: CreateGenerationInput): Promise<OpenedJob> {
  const log = ctx.logger.child({ userId: input.userId });
  const { request } = input;
  const imageCount = (request.images?.length ?? 0) + input.files.length;
  const choice = chooseModel(request, imageCount, ctx.settings);
  const model = choice.kieModel;
  const prices = { perGeneration: ctx.settings.costPerGeneration, byModel: ctx.settings.modelCredits ?? {} };
  const cost = priceOf(prices, choice);

  await ctx.accounts.ensure(input.userId, input.email);

  const jobId = randomUUID();
  const callbackToken = callbacksEnabled(ctx) ? randomBytes(32).toString("base64url") : undefined;
  const { row, remaining } = await ctx.db.transaction(async (tx) => {
    const inserted = await insertGeneration(tx, {
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
      },
      parentId: input.parent?.id,
      cost,
      callbackTokenHash: callbackToken ? hashToken(callbackToken) : null,
      idempotencyKey: input.idempotencyKey,
      requestId: input.requestId,
    });
    const reserved = await reserve(tx, { userId: input.userId, cost, generationId: jobId });
    if (input.idempotencyClaim) {
      await attachIdempotencyJob(tx, {
        userId: input.userId,
        ...input.idempotencyClaim,
        generationId: jobId,
      });
    }
    return { row: inserted, remaining: reserved.remaining };
  });
  ctx.observer?.reserved(cost);
  log.info({ jobId, model, cost, remaining, mode: input.mode }, "generation accepted, credits reserved");
  return { jobId, row, openedAt: ctx.now(), choice, callbackToken, remaining, log };
}

/**
 * Uploads the request's local files to the provider in parallel; their public URLs, in order. Our
 * own copies of them (KIE deletes uploads after ~3 days, §9) are made in the background, best
 * effort: createTask never waits for our store. Each reader holds the spooled files until it is
 * done, so a failed upload (which ends this request) never deletes them under the others.
 */
async function uploadFiles(ctx: GenerationContext, jobId: string, input: CreateGenerationInput) {
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

/** Sends createTask (never retried blindly: a failure may still have created the task). */
async function sendTask(
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
function messageOf(ctx: GenerationContext, error: unknown): string {
  return (
    ctx.provider.describeError(error) ?? (error instanceof Error ? error.message.slice(0, 300) : "failed")
  );
}
