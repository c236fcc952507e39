/**
 * The reconciler's sweep (DESIGN.md §5, docs/JOBS.md "Who settles"): settles the open jobs nobody
 * is watching — closed tabs, lost callbacks, a crash mid-request — and times out the ones past
 * KIE_TIMEOUT_MS. The timer that runs it is reconciler.ts; cron calls it through the app.
 */
import { claimStaleGenerations } from "@/lib/db/generations";
import { forEachLimited } from "./concurrency";
import type { GenerationContext } from "./context";
import { isReadBudgetExhausted } from "./readBudget";
import { refreshClaimed } from "./refresh";
import type { ReconcileOptions } from "./types";
import { isOpen } from "./watch";

/** Leave young jobs to their own waiters and pollers. */
const RECONCILE_MIN_AGE_MS = 20_000;
const RECONCILE_INTERVAL_MS = 20_000;
/** KIE reads a sweep runs at once. */
const RECONCILE_PARALLELISM = 8;

/**
 * One sweep: claims stale open jobs (a lease: `refreshed_at` is set in one SKIP LOCKED UPDATE,
 * so other sweeps pass them over for RECONCILE_INTERVAL_MS) and refreshes them a few at a time,
 * each KIE read under a deadline — which also times out the ones past KIE_TIMEOUT_MS. Once a
 * read fails, KIE counts as failing for the rest of the sweep: timed-out jobs are released
 * without their final read, the others wait for the next sweep. So a sweep takes about one read
 * deadline even when KIE hangs, and never outlasts its claim.
 */
export async function reconcile(
  ctx: GenerationContext,
  options: ReconcileOptions = {},
): Promise<{ examined: number; settled: number }> {
  const started = ctx.now();
  const readTimeoutMs = options.readTimeoutMs ?? ctx.settings.reconcileReadTimeoutMs ?? 10_000;
  const budgetMs = Math.max(1_000, RECONCILE_INTERVAL_MS - readTimeoutMs - 2_000);
  const claimed = await claimStaleGenerations(ctx.db, {
    limit: options.limit ?? 50,
    // Young jobs are left to their waiters, unless they are already past KIE_TIMEOUT_MS.
    minAgeMs: Math.min(RECONCILE_MIN_AGE_MS, ctx.settings.jobTimeoutMs),
    intervalMs: RECONCILE_INTERVAL_MS,
    timeoutMs: ctx.settings.jobTimeoutMs,
    userId: options.userId,
  });
  let kieFailing = false;
  let settled = 0;
  await forEachLimited(claimed, RECONCILE_PARALLELISM, async (job) => {
    if (options.signal?.aborted) return;
    const expired = ctx.now() - job.createdAt.getTime() >= ctx.settings.jobTimeoutMs;
    if (kieFailing && !expired) return;
    // A KIE read now could outlast the claim; a release without one cannot.
    if (!(kieFailing && expired) && ctx.now() - started > budgetMs) return;
    const deadline = AbortSignal.timeout(readTimeoutMs);
    try {
      const after = await refreshClaimed(ctx, job, {
        signal: options.signal ? AbortSignal.any([options.signal, deadline]) : deadline,
        stop: options.signal,
        skipFinalRead: kieFailing,
        onReadError: (error) => {
          // A timeout, a network error or a 5xx: KIE is failing. A refusal (404, 422) is not, nor
          // a read skipped for want of a budget token (KIE was not asked).
          if (!isReadBudgetExhausted(error) && ctx.provider.isProviderFailing(error)) kieFailing = true;
        },
      });
      if (!isOpen(after)) settled++;
    } catch (error) {
      ctx.logger.error({ jobId: job.id, err: error }, "reconciler could not refresh a job");
    }
  });
  if (claimed.length > 0)
    ctx.logger.info(
      { examined: claimed.length, settled, kieFailing, elapsedMs: ctx.now() - started },
      "reconciler sweep",
    );
  return { examined: claimed.length, settled };
}
