/**
 * The line (docs/JOBS.md "The line", issue 23): KIE accepts only so many new tasks per window
 * for the whole account and refuses the rest (429, not queued), so a create that finds no token
 * waits here instead of failing. A job in line is a `queued` row, credits reserved and uploads
 * done, holding everything createTask needs (`params.submit`): any instance's drain (drain.ts)
 * can send it, after a restart too. The public API shows it as `pending` with its place.
 */

import { brand } from "@/lib/brand";
import type { ImageGenerationRequest } from "@/lib/catalog";
import { enqueueGeneration, linePosition, lineStats } from "@/lib/db/line";
import type { Generation } from "@/lib/db/schema";
import type { HasProblem, Problem } from "@/lib/problem";
import { type GenerationContext, viewOf } from "./context";
import type { JobView } from "./view";

/** What the drain needs to send a queued job's createTask (kept in the row's params). */
export interface QueuedSubmit {
  request: ImageGenerationRequest;
  /** Every input image's public URL: the request's own, then the uploaded files'. */
  imageUrls: string[];
}

export const DEFAULT_QUEUE_MAX = 500;
const DEFAULT_CREATE_RATE = { limit: 20, windowMs: 10_000 };

/** KIE_QUEUE_MAX jobs are in line already: refused before anything is reserved (503). */
export class LineFullError extends Error implements HasProblem {
  constructor(readonly retryAfterSeconds: number) {
    super("The line for the image service is full");
    this.name = "LineFullError";
  }

  toProblem(): Problem {
    return {
      code: "service_unavailable",
      message: "Too many images are waiting for the image service. Nothing was charged; try again shortly.",
      retryAfterSeconds: this.retryAfterSeconds,
      logLevel: "warn",
    };
  }
}
brand(LineFullError, "generation.LineFullError");

/**
 * Refuses new jobs (a batch of `count`, all or none) when the line has no room for them all,
 * before their credits are reserved: each may have to wait in it.
 */
export async function checkRoomInLine(ctx: GenerationContext, count = 1): Promise<void> {
  const max = ctx.settings.queueMax ?? DEFAULT_QUEUE_MAX;
  const { length } = await lineStats(ctx.db);
  if (length + count > max) throw new LineFullError(Math.max(1, Math.ceil(etaOf(ctx, length) / 1000)));
}

/** Whether a new job must wait in line: others are waiting (first come, first served), or no token. */
export async function mustWaitInLine(ctx: GenerationContext): Promise<boolean> {
  if ((await lineStats(ctx.db)).length > 0) return true;
  return !(await ctx.budget.takeCreate()).ok;
}

/**
 * Puts a pending job without a KIE task in line and wakes this instance's drain. False when the
 * job was settled meanwhile (the reconciler timed it out): it is not sent. `atHead`: a job KIE
 * refused with 429 goes back first (it had its turn), not behind its user's later jobs.
 */
export async function enterLine(
  ctx: GenerationContext,
  jobId: string,
  submit: QueuedSubmit,
  options: { atHead?: boolean } = {},
): Promise<boolean> {
  const entered = await enqueueGeneration(ctx.db, jobId, { ...submit }, options);
  if (entered) ctx.line.wake();
  return entered;
}

/** About how long until the job at `position` is sent: the line moves at KIE's create rate. */
function etaOf(ctx: GenerationContext, position: number): number {
  const { limit, windowMs } = ctx.settings.createRate ?? DEFAULT_CREATE_RATE;
  return Math.round((position * windowMs) / limit);
}

/** The job's public view, with its place in line and ETA while it is queued. */
export async function viewWithPlace(ctx: GenerationContext, job: Generation): Promise<JobView> {
  const view = viewOf(ctx, job);
  if (job.status !== "queued") return view;
  const queuePosition = await linePosition(ctx.db, job.id);
  if (queuePosition === undefined) return view; // it left the line just now
  return { ...view, queuePosition, etaMs: etaOf(ctx, queuePosition) };
}

/** The line as the health route and the metrics show it. */
export async function lineStatus(ctx: GenerationContext): Promise<{ length: number; oldestWaitMs: number }> {
  const { length, oldestCreatedAt } = await lineStats(ctx.db);
  return { length, oldestWaitMs: oldestCreatedAt ? Math.max(0, ctx.now() - oldestCreatedAt.getTime()) : 0 };
}
