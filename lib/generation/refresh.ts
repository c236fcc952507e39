/**
 * Bringing an open job up to date (DESIGN.md §5): read KIE and apply its answer, or — once
 * KIE_TIMEOUT_MS has passed — one last read, then `timeout` with the credits released.
 *
 * Two entry points, by who holds the refresh lease (`refreshed_at`, at most one KIE read per
 * interval per job across every client and instance):
 * - refreshIfDue: readers (status polls, waits) that must win the lease first; a loser answers
 *   from the row.
 * - refreshClaimed: callers that already hold it (the reconciler's claim).
 */
import { claimRefreshLease } from "@/lib/db/generations";
import type { Generation } from "@/lib/db/schema";
import { readAndApply, timeOut } from "./apply";
import { CALLBACK_LEASE_MS } from "./callbacks";
import {
  ageAtKieMs,
  CALLBACK_GRACE_MS,
  callbacksEnabled,
  type GenerationContext,
  pollAfterMs,
  reread,
} from "./context";
import { isReadBudgetExhausted } from "./readBudget";
import { isOpen } from "./watch";

export interface RefreshIfDueOptions {
  /** The lease interval (default pollAfterMs); 0 for a sync waiter's own schedule. */
  leaseMs?: number;
  /** How long after createTask KIE is left alone while a callback is expected (default 15 s). */
  callbackGraceMs?: number;
  /** Aborts the KIE read (the waiter left, or the job settled meanwhile). */
  signal?: AbortSignal;
  /** When KIE is not read, return the row as it is now rather than the copy passed in. */
  fresh?: boolean;
}

export interface RefreshClaimedOptions {
  /** Aborts the KIE read (its deadline, or the reconciler stopping). */
  signal?: AbortSignal;
  /** Told when the read of KIE failed (the reconciler stops reading KIE for the sweep). */
  onReadError?: (error: unknown) => void;
  /** A job past KIE_TIMEOUT_MS is released without its final read (KIE is failing). */
  skipFinalRead?: boolean;
  /** The reconciler is stopping: abandon rather than settle. */
  stop?: AbortSignal;
}

/**
 * Reads KIE for an open job if this caller wins the refresh lease (everyone else answers from the
 * row); nothing is read before createTask answered, nor while a callback is still expected.
 */
export async function refreshIfDue(
  ctx: GenerationContext,
  job: Generation,
  options: RefreshIfDueOptions = {},
): Promise<Generation> {
  if (!isOpen(job)) return job;
  // A caller that keeps the row across waits asks for it fresh when KIE is not read: a path that
  // loses the lease must not keep a stale copy (DESIGN.md §5).
  const unread = () => (options.fresh ? reread(ctx, job) : job);
  const expired = ctx.now() - job.createdAt.getTime() >= ctx.settings.jobTimeoutMs;
  const grace = options.callbackGraceMs ?? CALLBACK_GRACE_MS;
  if (!expired && (!job.kieTaskId || (callbacksEnabled(ctx) && ageAtKieMs(ctx, job) < grace)))
    return unread();
  // KIE is read at most once per pollAfterMs per job, across all clients and instances.
  const interval = expired ? CALLBACK_LEASE_MS : (options.leaseMs ?? pollAfterMs(ctx, job));
  if (!(await claimRefreshLease(ctx.db, job.id, interval))) return unread();
  return leased(ctx, job, expired, { signal: options.signal });
}

/** Refreshes an open job whose lease the caller already holds (the reconciler's claim). */
export async function refreshClaimed(
  ctx: GenerationContext,
  job: Generation,
  options: RefreshClaimedOptions = {},
): Promise<Generation> {
  if (!isOpen(job)) return job;
  return leased(ctx, job, ctx.now() - job.createdAt.getTime() >= ctx.settings.jobTimeoutMs, options);
}

function leased(
  ctx: GenerationContext,
  job: Generation,
  expired: boolean,
  options: RefreshClaimedOptions,
): Promise<Generation> {
  if (expired) return expire(ctx, job, options);
  if (!job.kieTaskId) return Promise.resolve(job);
  return readAndApply(ctx, job, job.kieTaskId, options.signal, options.onReadError);
}

/**
 * KIE_TIMEOUT_MS passed: one last look at KIE (deliver a finished image), else `timeout`. A success
 * whose copy is still running when this caller's deadline comes is left to that copy: it settles
 * the job, or times it out keeping the late result (apply.ts).
 */
async function expire(
  ctx: GenerationContext,
  job: Generation,
  options: RefreshClaimedOptions,
): Promise<Generation> {
  if (job.kieTaskId && !options.skipFinalRead) {
    let unread = false;
    const looked = await readAndApply(ctx, job, job.kieTaskId, options.signal, (error) => {
      unread = isReadBudgetExhausted(error);
      options.onReadError?.(error);
    });
    if (!isOpen(looked)) return looked;
    // Shutting down: leave the job to the next sweep rather than give up on a read we cut short.
    if (options.stop?.aborted) return looked;
    // KIE's read budget had no token for the last look: a later refresh looks, not a blind timeout.
    if (unread) return looked;
  }
  // A success found by this or an earlier look is still being copied here: that copy settles it.
  if (ctx.settling.has(job.id)) return job;
  return timeOut(ctx, job);
}
