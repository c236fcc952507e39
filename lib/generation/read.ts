/**
 * A user's reads of their jobs: one job (status, optionally waited for) and the history page.
 * Both also sweep a few of the user's own stale jobs: on a serverless host with no timer and no
 * cron, a user's credits still come back (docs/JOBS.md "Who settles").
 */
import { balance } from "@/lib/credits";
import {
  findBatch,
  findChildren,
  findGeneration,
  findUserGeneration,
  type GenerationPageCursor,
  listUserGenerations,
} from "@/lib/db/generations";
import { untilAborted } from "./concurrency";
import { type GenerationContext, pollAfterMs, reread, viewOf } from "./context";
import { viewWithPlace } from "./line";
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

/**
 * The user's job (by our id or KIE's task id), refreshed from KIE at most once per interval. It
 * answers within its own bound — `Prefer: wait=N`: N seconds, else STATUS_READ_TIMEOUT_MS —
 * whatever runs meanwhile: a copy of its result, the user's sweep (docs/JOBS.md).
 */
export async function getForUser(
  ctx: GenerationContext,
  userId: string,
  taskId: string,
  options: StatusReadOptions = {},
): Promise<StatusReadResult | undefined> {
  const waitMs = options.waitMs && options.waitMs > 0 ? options.waitMs : 0;
  const deadline = ctx.now() + (waitMs || STATUS_READ_TIMEOUT_MS);
  const sweeping = sweepUserSoon(ctx, userId);
  const found = await findUserGeneration(ctx.db, userId, taskId);
  if (!found) return undefined;
  let job = isOpen(found)
    ? await refreshIfDue(ctx, found, { signal: AbortSignal.timeout(Math.max(0, deadline - ctx.now())) })
    : found;
  if (isOpen(job) && waitMs > 0) {
    // Held until the job settles or the wait ends; no connection is held meanwhile (§3).
    job = await waitForJob(ctx, job, "status", deadline, options.signal);
  }
  // The sweep may have settled this very job: once it is done (within the bound), look again.
  if (isOpen(job) && (await within(sweeping, deadline - ctx.now()))) job = await reread(ctx, job);
  return {
    job: await viewWithPlace(ctx, job),
    remainingCredits: (await balance(ctx.db, userId)) ?? 0,
    pollAfterMs: isOpen(job) ? pollAfterMs(ctx, job) : undefined,
  };
}

/**
 * Several of the user's jobs at once (one watch for all of a page's running jobs, DESIGN.md §3):
 * unknown ids and other users' are left out. With `waitMs`, held until one of them is no longer
 * open (at once if one already is) or the wait ends — one request however many jobs run.
 */
export async function getManyForUser(
  ctx: GenerationContext,
  userId: string,
  taskIds: readonly string[],
  options: StatusReadOptions = {},
): Promise<{ jobs: JobView[]; notFound: string[]; remainingCredits: number }> {
  const waitMs = options.waitMs && options.waitMs > 0 ? options.waitMs : 0;
  const deadline = ctx.now() + (waitMs || STATUS_READ_TIMEOUT_MS);
  const sweeping = sweepUserSoon(ctx, userId);
  const asked = [...new Set(taskIds)];
  const found = await Promise.all(asked.map((taskId) => findUserGeneration(ctx.db, userId, taskId)));
  // In the order asked: a job's public id changes once KIE has it, so the caller matches by place.
  const notFound = asked.filter((_, index) => !found[index]);
  let jobs = await Promise.all(
    found
      .flatMap((job) => (job ? [job] : []))
      .map((job) =>
        isOpen(job)
          ? refreshIfDue(ctx, job, { signal: AbortSignal.timeout(Math.max(0, deadline - ctx.now())) })
          : job,
      ),
  );
  if (waitMs > 0 && jobs.length > 0 && jobs.every(isOpen)) {
    // The first to settle answers for all; the others stop waiting (their watches go on if shared).
    const first = new AbortController();
    const signal = options.signal ? AbortSignal.any([first.signal, options.signal]) : first.signal;
    await Promise.race(jobs.map((job) => waitForJob(ctx, job, "status", deadline, signal)));
    first.abort();
  }
  if (jobs.some(isOpen) && (waitMs > 0 || (await within(sweeping, deadline - ctx.now())))) {
    jobs = await Promise.all(jobs.map((job) => (isOpen(job) ? reread(ctx, job) : job)));
  }
  return {
    jobs: await Promise.all(jobs.map((job) => viewWithPlace(ctx, job))),
    notFound,
    remainingCredits: (await balance(ctx.db, userId)) ?? 0,
  };
}

/**
 * The user's job with its parent and children in their edit tree, and every job of its batch
 * (`n` variations, itself included, in the order asked; just itself when made alone) — as the
 * rows are: no KIE read.
 */
export async function lineage(
  ctx: GenerationContext,
  userId: string,
  taskId: string,
): Promise<{ job: JobView; parent: JobView | null; children: JobView[]; batch: JobView[] } | undefined> {
  const found = await findUserGeneration(ctx.db, userId, taskId);
  if (!found) return undefined;
  const [parent, children, batch] = await Promise.all([
    found.parentId ? findGeneration(ctx.db, found.parentId) : undefined,
    findChildren(ctx.db, userId, found.id),
    found.batchId ? findBatch(ctx.db, userId, found.batchId) : [found],
  ]);
  const visibleParent = parent && parent.userId === userId && !parent.deletedAt ? parent : undefined;
  return {
    job: await viewWithPlace(ctx, found),
    parent: visibleParent ? viewOf(ctx, visibleParent) : null,
    children: children.map((child) => viewOf(ctx, child)),
    batch: await Promise.all(batch.map((sibling) => viewWithPlace(ctx, sibling))),
  };
}

export async function list(
  ctx: GenerationContext,
  userId: string,
  options: ListOptions,
): Promise<{ jobs: JobView[]; next?: GenerationPageCursor }> {
  // The page then shows them settled, if the sweep is done within a status read's bound.
  await within(sweepUserSoon(ctx, userId), STATUS_READ_TIMEOUT_MS);
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
 * a few of that user's own stale jobs (at most every USER_SWEEP_EVERY_MS per instance, one sweep
 * per user at a time), so their credits come back anyway. It runs in the background: a read waits
 * for it only within its own bound. Bounded: short KIE reads; a failure only logs; never rejects.
 */
function sweepUserSoon(ctx: GenerationContext, userId: string): Promise<void> {
  const running = ctx.userSweeps.get(userId);
  if (running) return running;
  const last = ctx.userSweptAt.get(userId);
  if (last !== undefined && ctx.now() - last < USER_SWEEP_EVERY_MS) return Promise.resolve();
  if (ctx.userSweptAt.size >= 10_000) ctx.userSweptAt.clear(); // a cache, not a record
  ctx.userSweptAt.set(userId, ctx.now());
  const sweeping = reconcile(ctx, { userId, limit: USER_SWEEP_LIMIT, readTimeoutMs: STATUS_READ_TIMEOUT_MS })
    .then(
      () => undefined,
      (error) => ctx.logger.warn({ userId, err: error }, "could not sweep the user's stale jobs"),
    )
    .finally(() => ctx.userSweeps.delete(userId));
  ctx.userSweeps.set(userId, sweeping);
  return sweeping;
}

/** Whether `work` finished within `ms` (it goes on either way). */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms <= 0) return false;
  const timeout = AbortSignal.timeout(ms);
  return (
    (await untilAborted(
      work.then(() => true),
      timeout,
    )) === true
  );
}
