/**
 * Turning what the provider (KIE) says about a job's task into the job's state: still running, or settled
 * (through settle(), the one place a job ends) with its result copied into our store first.
 */
import { attachLateResult, findGeneration, markProcessing, recordKieCredits } from "@/lib/db/generations";
import type { Generation } from "@/lib/db/schema";
import { untilAborted } from "./concurrency";
import { type GenerationContext, reread } from "./context";
import type { ProviderTask } from "./provider";
import { type SettleInput, settle } from "./settle";
import { isOpen } from "./watch";

/**
 * Exactly once per job: the winner writes the outcome and captures or releases the credits, then
 * wakes the job's waiters and tells the observer. A loser gets the row as the winner left it.
 */
export async function settleJob(
  ctx: GenerationContext,
  jobId: string,
  input: SettleInput,
  provider?: { durationMs?: number },
): Promise<Generation | undefined> {
  const settled = await settle(ctx.db, jobId, input, { notify: ctx.settings.notifyAcrossInstances });
  if (!settled) return findGeneration(ctx.db, jobId);
  ctx.events.settled(jobId);
  ctx.observer?.settled(settled);
  // The poll schedule learns the provider's own duration: our settledAt − createdAt would add the
  // copy and any late read, and the schedule built on it would read later and later (drift).
  if (settled.status === "succeeded" && isPlausible(ctx, settled, provider?.durationMs)) {
    ctx.durations.record(settled.model, provider.durationMs);
  }
  ctx.logger.info(
    { jobId, status: settled.status, credits: settled.status === "succeeded" ? "captured" : "released" },
    "job settled",
  );
  return settled;
}

/** How far the database's clock (a job's created_at) and this process's may be apart. */
const CLOCK_SKEW_MS = 2_000;

/**
 * KIE cannot have run a task for longer than its job has existed by our clock: a longer duration
 * is a broken record (KIE's times are wrong), and learned — shared with every instance — it would
 * put every job of the model on a schedule that reads it that much later.
 */
function isPlausible(
  ctx: GenerationContext,
  job: Generation,
  durationMs: number | undefined,
): durationMs is number {
  if (durationMs === undefined) return false;
  return durationMs <= ctx.now() - job.createdAt.getTime() + CLOCK_SKEW_MS;
}

/** Reads the task from KIE and applies it; a failed read leaves the job as it was. */
export async function readAndApply(
  ctx: GenerationContext,
  job: Generation,
  kieTaskId: string,
  signal?: AbortSignal,
  onReadError?: (error: unknown) => void,
): Promise<Generation> {
  let record: ProviderTask;
  try {
    record = await ctx.provider.readTask(kieTaskId, { requestId: job.requestId ?? job.id, signal });
  } catch (error) {
    onReadError?.(error);
    if (signal?.aborted) return job; // nobody needs the answer any more, or its deadline passed
    ctx.logger.warn(
      { jobId: job.id, kieTaskId, err: error },
      "could not read the KIE task; will retry later",
    );
    return job;
  }
  return apply(ctx, job, record, signal);
}

/**
 * Applies what KIE says about the job's task. A success is copied and settled in the background
 * (settleSuccess): the caller waits for that until `until` aborts (its deadline), then goes on
 * with the job still open; the settlement wakes its waiters when it lands.
 */
export async function apply(
  ctx: GenerationContext,
  job: Generation,
  record: ProviderTask,
  until?: AbortSignal,
): Promise<Generation> {
  const elapsedMs = ctx.now() - job.createdAt.getTime();
  await noteProviderCredits(ctx, job, record);
  if (record.state === "succeeded") {
    if (record.resultUrls.length === 0) return settleEmptySuccess(ctx, job);
    ctx.logger.info({ jobId: job.id, kieTaskId: record.taskId, elapsedMs }, "KIE task succeeded");
    const settling = settleSuccess(ctx, job, record);
    return until ? ((await untilAborted(settling, until)) ?? job) : settling;
  }
  if (record.state === "failed") {
    ctx.logger.info(
      { jobId: job.id, kieTaskId: record.taskId, failCode: record.failCode, elapsedMs },
      "KIE task failed",
    );
    return (
      (await settleJob(ctx, job.id, {
        status: "failed",
        errorCode: "generation_failed",
        errorMessage: record.failMessage ?? "The image could not be generated.",
      })) ?? job
    );
  }
  if (record.state === "running" && job.status === "pending") {
    ctx.logger.info(
      { jobId: job.id, state: record.providerState ?? record.state, elapsedMs },
      "KIE task is running",
    );
    await markProcessing(ctx.db, job.id);
    return { ...job, status: "processing" };
  }
  return job;
}

/**
 * Keeps what KIE says the task cost on the job (kie_credits_consumed), beside the price we charged.
 * Best effort: a failed write is logged and never holds up the job's settlement.
 */
async function noteProviderCredits(ctx: GenerationContext, job: Generation, record: ProviderTask) {
  const credits = record.providerCredits;
  if (credits === undefined || job.kieCreditsConsumed === credits) return;
  try {
    if (await recordKieCredits(ctx.db, job.id, credits)) {
      ctx.logger.info(
        { jobId: job.id, kieCredits: credits, cost: job.cost },
        "KIE's charge for the task recorded",
      );
    }
  } catch (error) {
    ctx.logger.warn({ jobId: job.id, err: error }, "could not record KIE's charge for the task");
  }
}

async function settleEmptySuccess(ctx: GenerationContext, job: Generation): Promise<Generation> {
  return (
    (await settleJob(ctx, job.id, {
      status: "failed",
      errorCode: "upstream_error",
      errorMessage: "The image service reported success but returned no image.",
    })) ?? job
  );
}

/**
 * The copy and settlement of a success, once per job in this process however many paths (a read,
 * a waiter, a callback, the reconciler) found it: they share the one in progress. It never
 * rejects (a failure is logged; the job stays open and the next read tries again).
 */
function settleSuccess(ctx: GenerationContext, job: Generation, record: ProviderTask): Promise<Generation> {
  const running = ctx.settling.get(job.id);
  if (running) return running;
  const settling = copyAndSettle(ctx, job, record)
    .catch((error) => {
      ctx.logger.error({ jobId: job.id, err: error }, "could not settle a succeeded job; will retry");
      return job;
    })
    .finally(() => ctx.settling.delete(job.id));
  ctx.settling.set(job.id, settling);
  return settling;
}

async function copyAndSettle(
  ctx: GenerationContext,
  job: Generation,
  record: ProviderTask,
): Promise<Generation> {
  const { resultUrls } = record;
  const expired = ctx.now() - job.createdAt.getTime() >= ctx.settings.jobTimeoutMs;
  // KIE's file out of reach for now: the next read tries again — unless time is up, and then the
  // paid result is kept on the timed-out job (a free late delivery, copied later).
  const outcome =
    (await settlementOf(ctx, job, resultUrls)) ?? (expired ? timeoutInput(ctx, job, resultUrls) : undefined);
  if (!outcome) return reread(ctx, job);
  const settled = (await settleJob(ctx, job.id, outcome, record)) ?? job;
  if (settled.status === "timeout" && (await attachLateResult(ctx.db, job.id, resultUrls))) {
    // We had given up (credits released): the image is delivered anyway, free of charge.
    ctx.logger.info({ jobId: job.id }, "late result attached to a timed-out job (not charged)");
    return { ...settled, resultUrls };
  }
  return settled;
}

/** KIE_TIMEOUT_MS passed: `timeout`, credits released. */
export async function timeOut(ctx: GenerationContext, job: Generation): Promise<Generation> {
  return (await settleJob(ctx, job.id, timeoutInput(ctx, job))) ?? reread(ctx, job);
}

/**
 * How a job past KIE_TIMEOUT_MS settles. A success KIE reported that could not be copied yet
 * (`lateResultUrls`) stays on the job, never charged (docs/JOBS.md "Decisions").
 */
function timeoutInput(ctx: GenerationContext, job: Generation, lateResultUrls?: string[]): SettleInput {
  ctx.logger.warn(
    { jobId: job.id, timeoutMs: ctx.settings.jobTimeoutMs, lateResult: lateResultUrls !== undefined },
    "job timed out; credits released",
  );
  return {
    status: "timeout",
    errorCode: "upstream_timeout",
    errorMessage: "The image service did not finish in time. Your credits were returned.",
    resultUrls: lateResultUrls,
  };
}

/**
 * How a success settles (DESIGN.md §9): succeeded once the image is in our store; succeeded on
 * KIE's URL, not yet stored, when the store is down; failed (credits released) when the result
 * is not an image, over the cap or on a host the guard refuses; undefined (stay open) when KIE's file cannot be fetched now.
 * A job already settled is not copied again here (a late result is copied by the reconciler).
 */
async function settlementOf(
  ctx: GenerationContext,
  job: Generation,
  resultUrls: string[],
): Promise<SettleInput | undefined> {
  const succeeded: SettleInput = { status: "succeeded", resultUrls };
  if (!ctx.images || !isOpen(job)) return succeeded;
  const copy = await ctx.images.copyAtSettlement(job, resultUrls[0] as string);
  switch (copy.kind) {
    case "stored":
      return { ...succeeded, image: copy.image, warnings: copy.warnings };
    case "store_down":
      return succeeded;
    case "rejected":
      // No resultUrls: a failed job shows no image (KIE's URL is in the log).
      return { status: "failed", errorCode: "upstream_error", errorMessage: copy.message };
    case "source_unavailable":
      return undefined;
  }
}
