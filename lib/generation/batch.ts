/**
 * Variations (`n` > 1, DESIGN.md §3): one request, n jobs sharing a `batchId`, each its own KIE
 * task and its own charge. open.ts wrote the jobs and reserved the whole batch (or nothing); here
 * each job goes through the line's admission like a single one — sent now if a create token is
 * free, else queued — and the answer lists every job. A job's own failure (KIE refused its create)
 * releases its credits and leaves the others alone; nothing here throws for one job, since the
 * batch exists: an error answering names its first job, which the Idempotency-Key claim keeps.
 */
import { balance } from "@/lib/credits";
import { findBatch, findGeneration } from "@/lib/db/generations";
import type { Generation } from "@/lib/db/schema";
import { settleJob } from "./apply";
import { callbacksEnabled, type GenerationContext, pollAfterMs } from "./context";
import { JobDeletedError, JobUnansweredError } from "./errors";
import { enterLine, mustWaitInLine, type QueuedSubmit, viewWithPlace } from "./line";
import { mayHaveTimedOut, messageOf, type OpenedJob, sendTask, submitOf } from "./open";
import { backInLine, pauseForRateLimit, recordCreatedTask } from "./submit";
import type { AnyCreateResult, BatchGenerationResult, CreateGenerationInput } from "./types";
import { publicTaskId } from "./view";
import { resume, waitForJob } from "./wait";
import { isOpen } from "./watch";

/** Sends (or queues) each job of an opened batch in order, then answers with all of them. */
export async function createBatch(
  ctx: GenerationContext,
  input: CreateGenerationInput,
  batch: OpenedJob[],
  uploadedUrls: string[],
  deadline: number,
): Promise<BatchGenerationResult> {
  const first = batch[0] as OpenedJob;
  // One after the other: each takes its own create token, and once one waits in line the rest
  // follow it there (first come, first served).
  for (const opened of batch) {
    await sendOne(ctx, input, opened, submitOf(input, opened, uploadedUrls), deadline);
  }
  try {
    const rows = await Promise.all(batch.map(async (opened) => readJob(ctx, opened.jobId)));
    return await answerBatch(ctx, input.userId, rows, { mode: input.mode, signal: input.signal, deadline });
  } catch (error) {
    throw new JobUnansweredError(first.jobId, { cause: error });
  }
}

/**
 * The answer for a retried request (same Idempotency-Key and body) from the job its earlier
 * attempt recorded: the whole batch when that job is one of several, else the job (wait.ts).
 */
export async function resumeJobOrBatch(
  ctx: GenerationContext,
  userId: string,
  jobId: string,
  options: { mode: "sync" | "async"; signal?: AbortSignal },
): Promise<AnyCreateResult | undefined> {
  // Deleted or not, the job is this request's: a retry must never make (and charge) it again.
  const found = await findGeneration(ctx.db, jobId);
  if (!found || found.userId !== userId) return undefined;
  const rows = isOfBatch(found) ? await findBatch(ctx.db, userId, found.batchId as string) : [];
  if (rows.length > 0) {
    const deadline = ctx.now() + ctx.settings.pollBudgetMs;
    return answerBatch(ctx, userId, rows, { ...options, deadline });
  }
  if (found.deletedAt) throw new JobDeletedError(publicTaskId(found));
  return resume(ctx, userId, jobId, options);
}

/** Whether the job was made with others (`n` > 1). */
export function isOfBatch(job: Generation): boolean {
  return job.batchId !== null && Number((job.params as { batchSize?: number }).batchSize ?? 1) > 1;
}

/**
 * Every job of the batch as it is (async), or once each has settled or the deadline passed
 * (sync: the jobs are waited for together, within the one KIE_POLL_BUDGET_MS).
 */
async function answerBatch(
  ctx: GenerationContext,
  userId: string,
  rows: Generation[],
  options: { mode: "sync" | "async"; signal?: AbortSignal; deadline: number },
): Promise<BatchGenerationResult> {
  const jobs =
    options.mode === "sync"
      ? await Promise.all(
          rows.map((job) =>
            isOpen(job) ? waitForJob(ctx, job, "sync", options.deadline, options.signal) : job,
          ),
        )
      : rows;
  const views = await Promise.all(jobs.map((job) => viewWithPlace(ctx, job)));
  const open = jobs.filter(isOpen);
  return {
    outcome: "batch",
    batchId: (jobs[0] as Generation).batchId as string,
    jobs: views,
    remainingCredits: (await balance(ctx.db, userId)) ?? 0,
    ...(open.length > 0 && { pollAfterMs: Math.min(...open.map((job) => pollAfterMs(ctx, job))) }),
    warnings: [],
  };
}

async function readJob(ctx: GenerationContext, jobId: string): Promise<Generation> {
  const job = await findGeneration(ctx.db, jobId);
  if (!job) throw new Error(`job ${jobId} vanished`);
  return job;
}

/**
 * One job of a batch through admission and createTask, as create.ts does for a single job: in
 * line when others wait or no token is free; KIE's 429 puts it back at the head of the line; an
 * ambiguous failure leaves it pending for its callback (or the reconciler's release); any other
 * refusal fails it, its credits released. Never throws: the job exists whatever happens here, and
 * one left pending by a database error is released by the reconciler after KIE_TIMEOUT_MS.
 */
async function sendOne(
  ctx: GenerationContext,
  input: CreateGenerationInput,
  opened: OpenedJob,
  submit: QueuedSubmit,
  deadline: number,
): Promise<void> {
  const { jobId, log } = opened;
  try {
    // Slow uploads can outlast KIE_TIMEOUT_MS: a job the reconciler timed out is not sent.
    if (mayHaveTimedOut(ctx, opened) && !isOpen(await readJob(ctx, jobId))) return;
    // Past a sync answer's deadline the rest wait in line (its drain sends them): n slow creates
    // in a row must not hold it past KIE_POLL_BUDGET_MS.
    const waits =
      (input.mode === "sync" && ctx.now() >= deadline) ||
      (await mustWaitInLine(ctx).catch((error) => {
        log.warn({ jobId, err: error }, "could not take a KIE create token; job waits in line");
        return true;
      }));
    if (waits) {
      await enterLine(ctx, jobId, submit);
      return;
    }
    const created = await sendTask(ctx, input, opened, submit).catch(async (error) => {
      await refused(ctx, opened, submit, error);
      return undefined;
    });
    if (created) await recordCreatedTask(ctx, jobId, created);
  } catch (error) {
    log.error(
      { jobId, err: error },
      "a job of the batch could not be sent or recorded; left to the reconciler",
    );
  }
}

/** createTask failed for one job of the batch (see sendOne). */
async function refused(ctx: GenerationContext, opened: OpenedJob, submit: QueuedSubmit, error: unknown) {
  const { jobId, log } = opened;
  const pauseMs = ctx.provider.isRateLimited(error);
  if (pauseMs !== undefined) {
    await pauseForRateLimit(ctx, jobId, pauseMs);
    await backInLine(ctx, jobId, () => enterLine(ctx, jobId, submit, { atHead: true }));
    return;
  }
  if (ctx.provider.isAmbiguousCreateFailure(error) && callbacksEnabled(ctx)) {
    log.warn({ jobId, err: error }, "createTask failed ambiguously; job left pending for its callback");
    return;
  }
  await settleJob(ctx, jobId, {
    status: "failed",
    errorCode: "upstream_error",
    errorMessage: messageOf(ctx, error),
  });
}
