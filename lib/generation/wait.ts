/**
 * How a request waits for its job (DESIGN.md §3, docs/JOBS.md "Waiting for a job"): the two
 * schedules a watch (watch.ts) looks on — a sync generate's fallback polls, a status read's
 * `Prefer: wait` — and resume(), which answers a retried request from the job it had created.
 */
import { fullJitterDelay } from "@/lib/backoff";
import { balance } from "@/lib/credits";
import { findUserGeneration } from "@/lib/db/generations";
import type { Generation } from "@/lib/db/schema";
import {
  CALLBACK_GRACE_MS,
  callbacksEnabled,
  type GenerationContext,
  LEASE_MARGIN_MS,
  pollAfterMs,
  reread,
  sentAt,
} from "./context";
import { viewWithPlace } from "./line";
import { refreshIfDue } from "./refresh";
import type { CreateGenerationResult } from "./types";
import { isOpen, type WatchSchedule } from "./watch";

/** A sync request reads KIE one last time this long before its budget ends. */
const SYNC_FINAL_LOOK_MS = 250;

/**
 * Holds a request until its job settles, `deadline` passes or `signal` aborts (then it answers,
 * to no one, with the row as it is). "sync": a sync generate, woken by any settlement, reading
 * KIE (single-flight) only as the fallback. "status": `Prefer: wait` on a status read, on the
 * pollers' lease schedule.
 */
export function waitForJob(
  ctx: GenerationContext,
  job: Generation,
  kind: "sync" | "status",
  deadline: number,
  signal?: AbortSignal,
): Promise<Generation> {
  const schedule = kind === "sync" ? syncSchedule(ctx) : statusSchedule(ctx);
  return ctx.watches.follow(job, schedule, { deadline, now: ctx.now, signal }).catch(() => reread(ctx, job));
}

/**
 * The answer for a request whose earlier attempt (same Idempotency-Key and body) created `jobId`
 * and then stopped: that job as it is now (202 while open, else its result), waited for like
 * the original in sync mode. Nothing new is created or charged.
 */
export async function resume(
  ctx: GenerationContext,
  userId: string,
  jobId: string,
  options: { mode: "sync" | "async"; signal?: AbortSignal },
): Promise<CreateGenerationResult | undefined> {
  const deadline = ctx.now() + ctx.settings.pollBudgetMs;
  const found = await findUserGeneration(ctx.db, userId, jobId);
  if (!found) return undefined;
  let job = found;
  if (isOpen(job) && options.mode === "sync")
    job = await waitForJob(ctx, job, "sync", deadline, options.signal);
  const remainingCredits = (await balance(ctx.db, userId)) ?? 0;
  const view = await viewWithPlace(ctx, job);
  if (!isOpen(job)) return { outcome: "settled", job: view, remainingCredits, warnings: [] };
  return options.mode === "sync"
    ? { outcome: "budget_exhausted", job: view, remainingCredits, warnings: [] }
    : { outcome: "accepted", job: view, remainingCredits, pollAfterMs: pollAfterMs(ctx, job), warnings: [] };
}

function syncSchedule(ctx: GenerationContext): WatchSchedule {
  return {
    name: "sync",
    look: (job, signal) =>
      refreshIfDue(ctx, job, { leaseMs: 0, callbackGraceMs: syncCallbackGraceMs(ctx), signal, fresh: true }),
    reread: (job) => reread(ctx, job),
    nextLookIn: (job, attempt) => fallbackPollDelay(ctx, job, attempt),
    finalLookMs: SYNC_FINAL_LOOK_MS,
  };
}

/** `Prefer: wait` on a status read: the normal lease schedule, as a poller would keep. */
function statusSchedule(ctx: GenerationContext): WatchSchedule {
  return {
    name: "status",
    look: (job, signal) => refreshIfDue(ctx, job, { signal, fresh: true }),
    reread: (job) => reread(ctx, job),
    nextLookIn: (job) => {
      if (callbacksEnabled(ctx) && job.kieTaskId) {
        const untilGraceEnds = sentAt(job) + CALLBACK_GRACE_MS - ctx.now();
        if (untilGraceEnds > 0) return untilGraceEnds + LEASE_MARGIN_MS;
      }
      return pollAfterMs(ctx, job) + LEASE_MARGIN_MS;
    },
  };
}

/**
 * A waiting request gives the callback a third of its budget at most before it reads KIE
 * itself: a short KIE_POLL_BUDGET_MS must still leave time to find a finished image.
 */
function syncCallbackGraceMs(ctx: GenerationContext): number {
  return Math.min(CALLBACK_GRACE_MS, ctx.settings.pollBudgetMs / 3);
}

function fallbackPollDelay(ctx: GenerationContext, job: Generation, attempt: number): number {
  if (callbacksEnabled(ctx)) {
    const untilGraceEnds = sentAt(job) + syncCallbackGraceMs(ctx) - ctx.now();
    if (untilGraceEnds > 0) return untilGraceEnds;
  }
  // Full jitter (a random point of a window that doubles from 1 s up to 5 s) with a floor:
  // spread out, but never a hammering loop.
  return Math.max(750, fullJitterDelay(attempt, { baseMs: 1_000, maxMs: 5_000 }, ctx.random));
}
