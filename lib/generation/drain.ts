/**
 * The drain of the line (docs/JOBS.md "The line"): takes a create token from KIE's shared budget,
 * then claims the job at the head of the line (queued → pending in one statement, SKIP LOCKED),
 * and only then sends its createTask — so across every instance a queued job is sent at most
 * once. A 429 from KIE puts the job back at the head and pauses the budget for every instance.
 */
import { randomBytes } from "node:crypto";
import { chooseModel } from "@/lib/catalog";
import { claimHeadOfLine, lineStats, requeueGeneration } from "@/lib/db/line";
import type { Generation } from "@/lib/db/schema";
import { settleJob } from "./apply";
import { callbackUrl, hashToken } from "./callbacks";
import { callbacksEnabled, type GenerationContext } from "./context";
import type { DrainPass } from "./drainLoop";
import type { QueuedSubmit } from "./line";
import { backInLine, pauseForRateLimit, recordCreatedTask } from "./submit";

/** createTasks one pass has in flight at once (KIE's budget, not this, sets the pace). */
const MAX_IN_FLIGHT = 8;
/**
 * A job whose createTask could still be unanswered at KIE_TIMEOUT_MS (the call's own timeout,
 * plus this) is left in line for the reconciler to time out: the reconciler would release the job
 * while KIE creates the task we pay for. At most half the timeout, as for a direct create.
 */
const TIMEOUT_MARGIN_MS = 5_000;
/** KIE_REQUEST_TIMEOUT_MS's default, when the settings do not say. */
const DEFAULT_CREATE_TASK_TIMEOUT_MS = 30_000;

/** Sends jobs from the line while tokens last; how the pass ended. */
export async function drainPass(ctx: GenerationContext, signal: AbortSignal): Promise<DrainPass> {
  const inFlight = new Set<Promise<void>>();
  try {
    while (!signal.aborted) {
      if (ctx.line.paused()) return { kind: "idle" }; // a 429: the pause ends with a wake-up
      if ((await lineStats(ctx.db)).length === 0) return { kind: "idle" };
      const grant = await ctx.budget.takeCreate();
      if (!grant.ok) return { kind: "wait", ms: grant.retryInMs };
      const token = callbacksEnabled(ctx) ? randomBytes(32).toString("base64url") : undefined;
      const job = await claimHeadOfLine(ctx.db, {
        maxAgeMs: maxAgeInLine(ctx),
        callbackTokenHash: token ? hashToken(token) : null,
      });
      // Another instance took the rest (the token is spent: the budget errs on the safe side).
      if (!job) return { kind: "idle" };
      const sending: Promise<void> = submitFromLine(ctx, job, token).finally(() => inFlight.delete(sending));
      inFlight.add(sending);
      if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
    }
    return { kind: "idle" };
  } finally {
    await Promise.allSettled(inFlight);
  }
}

/** How old a job may be and still be sent from the line (see TIMEOUT_MARGIN_MS). */
function maxAgeInLine(ctx: GenerationContext): number {
  const { jobTimeoutMs, createTaskTimeoutMs = DEFAULT_CREATE_TASK_TIMEOUT_MS } = ctx.settings;
  return Math.max(0, jobTimeoutMs - Math.min(createTaskTimeoutMs + TIMEOUT_MARGIN_MS, jobTimeoutMs / 2));
}

/** Sends one claimed job's createTask; never throws (the job settles or goes back in line). */
async function submitFromLine(ctx: GenerationContext, job: Generation, token: string | undefined) {
  const log = ctx.logger.child({ userId: job.userId, jobId: job.id });
  ctx.observer?.leftLine?.(ctx.now() - job.createdAt.getTime());
  let created: { taskId: string; warnings: string[] };
  try {
    const submit = (job.params as { submit?: QueuedSubmit }).submit;
    if (!submit) throw new Error("queued job without its createTask input");
    created = await ctx.provider.createTask(
      {
        request: submit.request,
        model: chooseModel(submit.request, submit.imageUrls.length, ctx.settings),
        imageUrls: submit.imageUrls,
        callBackUrl: token ? callbackUrl(ctx.settings.appUrl as string, job.id, token) : undefined,
      },
      { requestId: job.requestId ?? job.id },
    );
  } catch (error) {
    await createFailed(ctx, job, error).catch((err) =>
      log.error({ err }, "could not record a failed createTask from the line; the reconciler times it out"),
    );
    return;
  }
  // KIE created (and will charge for) the task: a failure from here on must not fail the job.
  await recordCreatedTask(ctx, job.id, created).catch((error) =>
    // Left pending, reserved, as after an ambiguous create: its callback adopts the task, else
    // the reconciler times it out.
    log.error(
      { err: error, kieTaskId: created.taskId },
      "could not record the KIE task created from the line",
    ),
  );
  log.info(
    { kieTaskId: created.taskId, waitedMs: ctx.now() - job.createdAt.getTime() },
    "KIE task created from the line",
  );
}

/** What a failed createTask of a queued job leads to (the same rules as a direct create). */
async function createFailed(ctx: GenerationContext, job: Generation, error: unknown): Promise<void> {
  const log = ctx.logger.child({ userId: job.userId, jobId: job.id });
  const pauseMs = ctx.provider.isRateLimited(error);
  if (pauseMs !== undefined) {
    await pauseForRateLimit(ctx, job.id, pauseMs);
    await backInLine(ctx, job.id, () => requeueGeneration(ctx.db, job.id));
    ctx.line.wake();
    return;
  }
  if (ctx.provider.isAmbiguousCreateFailure(error) && callbacksEnabled(ctx)) {
    log.warn({ err: error }, "createTask failed ambiguously; job left pending for its callback");
    return;
  }
  log.warn({ err: error }, "createTask from the line refused; credits released");
  await settleJob(ctx, job.id, {
    status: "failed",
    errorCode: "upstream_error",
    errorMessage:
      ctx.provider.describeError(error) ?? (error instanceof Error ? error.message.slice(0, 300) : "failed"),
  });
}
