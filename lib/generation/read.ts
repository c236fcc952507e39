/**
 * A user's reads of their jobs: one job (status, optionally waited for) and the history page.
 * Both also sweep a few of the user's own stale jobs: on a serverless host with no timer and no
 * cron, a user's credits still come back (docs/JOBS.md "Who settles").
 */
import { balance } from "@/lib/credits";
import { findUserGeneration, type GenerationPageCursor, listUserGenerations } from "@/lib/db/generations";
import { type GenerationContext, pollAfterMs, viewOf } from "./context";
import { reconcile } from "./reconcile";
import { refreshIfDue } from "./refresh";
import type { ListOptions, StatusReadOptions, StatusReadResult } from "./types";
import type { JobView } from "./view";
import { waitForJob } from "./wait";
import { isOpen } from "./watch";

/** A user's own reads sweep at most this many of their stale jobs, this often per instance. */
const USER_SWEEP_LIMIT = 3;
const USER_SWEEP_EVERY_MS = 10_000;
/** The longest a status read waits for its own read of KIE (it answers from the row after). */
const STATUS_READ_TIMEOUT_MS = 5_000;

/** The user's job (by our id or KIE's task id), refreshed from KIE at most once per interval. */
export async function getForUser(
  ctx: GenerationContext,
  userId: string,
  taskId: string,
  options: StatusReadOptions = {},
): Promise<StatusReadResult | undefined> {
  const sweeping = sweepUserSoon(ctx, userId);
  const found = await findUserGeneration(ctx.db, userId, taskId);
  if (!found) return sweeping.then(() => undefined);
  // A status read answers promptly even when KIE hangs: its own read of KIE is bounded.
  let job = isOpen(found)
    ? await refreshIfDue(ctx, found, { signal: AbortSignal.timeout(STATUS_READ_TIMEOUT_MS) })
    : found;
  if (isOpen(job) && options.waitMs && options.waitMs > 0) {
    // Held until the job settles or the wait ends; no connection is held meanwhile (§3).
    job = await waitForJob(ctx, job, "status", ctx.now() + options.waitMs, options.signal);
  }
  await sweeping;
  return {
    job: viewOf(ctx, job),
    remainingCredits: (await balance(ctx.db, userId)) ?? 0,
    pollAfterMs: isOpen(job) ? pollAfterMs(ctx, job) : undefined,
  };
}

export async function list(
  ctx: GenerationContext,
  userId: string,
  options: ListOptions,
): Promise<{ jobs: JobView[]; next?: GenerationPageCursor }> {
  await sweepUserSoon(ctx, userId); // the page then shows them settled
  const rows = await listUserGenerations(ctx.db, userId, { ...options, limit: options.limit + 1 });
  const page = rows.slice(0, options.limit);
  const last = page.at(-1);
  return {
    jobs: page.map((row) => viewOf(ctx, row)),
    next: rows.length > options.limit && last ? { id: last.id } : undefined,
  };
}

/**
 * Serverless hosts have no timer and may have no cron: a user's status and history reads sweep
 * a few of that user's own stale jobs (at most every USER_SWEEP_EVERY_MS per instance), so
 * their credits come back anyway. Bounded: short KIE reads; a failure only logs.
 */
function sweepUserSoon(ctx: GenerationContext, userId: string): Promise<void> {
  const last = ctx.userSweptAt.get(userId);
  if (last !== undefined && ctx.now() - last < USER_SWEEP_EVERY_MS) return Promise.resolve();
  if (ctx.userSweptAt.size >= 10_000) ctx.userSweptAt.clear(); // a cache, not a record
  ctx.userSweptAt.set(userId, ctx.now());
  return reconcile(ctx, { userId, limit: USER_SWEEP_LIMIT, readTimeoutMs: STATUS_READ_TIMEOUT_MS }).then(
    () => undefined,
    (error) => ctx.logger.warn({ userId, err: error }, "could not sweep the user's stale jobs"),
  );
}
