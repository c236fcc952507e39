/**
 * The create use case (DESIGN.md §4, docs/JOBS.md "Life of a job"): price the request, write the
 * job row and its reserve together, upload the local files, send createTask, then answer at once
 * (async) or wait for the job within KIE_POLL_BUDGET_MS (sync).
 */
import { balance } from "@/lib/credits";
import { findGeneration } from "@/lib/db/generations";
import { detachIdempotencyJob } from "@/lib/db/idempotency";
import type { Generation } from "@/lib/db/schema";
import type { Logger } from "@/lib/observability/logger";
import { settleJob } from "./apply";
import { createBatch } from "./batch";
import { callbacksEnabled, type GenerationContext, pollAfterMs, viewOf } from "./context";
import { JobInDoubtError, JobUnansweredError } from "./errors";
import { checkRoomInLine, enterLine, mustWaitInLine, type QueuedSubmit, viewWithPlace } from "./line";
import {
  mayHaveTimedOut,
  messageOf,
  type OpenedJob,
  openJobs,
  sendTask,
  submitOf,
  uploadFiles,
} from "./open";
import { backInLine, pauseForRateLimit, recordCreatedTask } from "./submit";
import type { AnyCreateResult, CreateGenerationInput, CreateGenerationResult } from "./types";
import { waitForJob } from "./wait";
import { isOpen } from "./watch";

export async function create(ctx: GenerationContext, input: CreateGenerationInput): Promise<AnyCreateResult> {
  // A sync request answers within KIE_POLL_BUDGET_MS of its arrival, uploads and createTask included.
  const deadline = ctx.now() + ctx.settings.pollBudgetMs;
  await checkRoomInLine(ctx, input.count ?? 1); // a full line refuses before anything is reserved
  const batch = await openJobs(ctx, input);
  const opened = batch[0] as OpenedJob;
  const { jobId, log } = opened;
  // Before anything reached KIE, every job of the batch fails with the error (credits released)
  // and the key is freed for a retry.
  const failBeforeKie = async (error: unknown, errorCode: string): Promise<never> => {
    const errorMessage = messageOf(ctx, error);
    for (const job of batch) await settleJob(ctx, job.jobId, { status: "failed", errorCode, errorMessage });
    await freeIdempotencyKey(ctx, input, jobId, log);
    throw error;
  };

  // The per-user rate limit counts each image of the batch.
  if (input.admit) await input.admit(batch.length).catch((error) => failBeforeKie(error, "rate_limited"));

  const uploadedUrls = await uploadFiles(ctx, jobId, input).catch((error) =>
    failBeforeKie(error, "upstream_error"),
  );
  if (batch.length > 1) return createBatch(ctx, input, batch, uploadedUrls, deadline);

  if (mayHaveTimedOut(ctx, opened)) {
    const settledMeanwhile = await settledBeforeCreate(ctx, jobId, input.userId, log);
    if (settledMeanwhile) return settledMeanwhile;
  }

  const submit = submitOf(input, opened, uploadedUrls);
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
