/**
 * What happens around a createTask, on both paths that send one (create.ts directly, drain.ts
 * from the line): recording the task KIE created, and KIE's 429.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { fullJitterDelay } from "@/lib/backoff";
import { addTaskWarnings, attachKieTask } from "@/lib/db/generations";
import type { GenerationContext } from "./context";

/** Tries at a database write the job cannot do without, before the error is given up on. */
const WRITE_ATTEMPTS = 4;
const WRITE_BACKOFF = { baseMs: 200, maxMs: 2_000 };

/**
 * Records the task KIE created (and will charge for) on its job, with createTask's warnings,
 * retrying a database error a few times (bounded): without a callback nothing else would ever
 * find the task, and the reconciler would release a job KIE delivers. False when the job already
 * had a task (its callback adopted it first); the last error is thrown when every try failed.
 */
export async function recordCreatedTask(
  ctx: GenerationContext,
  jobId: string,
  created: { taskId: string; warnings?: string[] },
): Promise<boolean> {
  const warnings = created.warnings ?? [];
  return retried(ctx, { jobId, kieTaskId: created.taskId }, "could not record the KIE task", async () => {
    if (await attachKieTask(ctx.db, jobId, created.taskId, warnings)) return true;
    // Its callback attached the task first, without the warnings only this answer carries.
    await addTaskWarnings(ctx.db, jobId, created.taskId, warnings);
    return false;
  });
}

/**
 * Puts a job KIE refused with 429 back in line (`requeue`), retrying a database error a few times
 * (bounded): nothing else would ever send it, and it would wait, reserved, for KIE_TIMEOUT_MS.
 */
export async function backInLine(
  ctx: GenerationContext,
  jobId: string,
  requeue: () => Promise<boolean>,
): Promise<boolean> {
  return retried(ctx, { jobId }, "could not put the job back in line", requeue);
}

async function retried<T>(
  ctx: GenerationContext,
  about: Record<string, unknown>,
  failure: string,
  write: () => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (attempt + 1 >= WRITE_ATTEMPTS) throw error;
      ctx.logger.warn({ ...about, err: error }, `${failure}; retrying`);
      await sleep(fullJitterDelay(attempt, WRITE_BACKOFF));
    }
  }
}

/**
 * KIE refused a create with 429 (nothing was created): every instance pauses its creates for
 * `pauseMs` (KIE's Retry-After, else 10 s: the provider says), and the caller puts the job back at
 * the head of the line (it keeps its arrival time) — no tight retry loop, no failure for the user.
 */
export async function pauseForRateLimit(
  ctx: GenerationContext,
  jobId: string,
  pauseMs: number,
): Promise<void> {
  ctx.logger.warn({ jobId, pauseMs }, "KIE refused a create (429); job back at the head of the line");
  ctx.line.pause(pauseMs);
  // Sharing the pause is best effort: a budget store that fails must not keep the job from going
  // back in line (it would sit pending without a task, reserved, until KIE_TIMEOUT_MS).
  await ctx.budget
    .pauseCreates(pauseMs)
    .catch((error) =>
      ctx.logger.warn({ jobId, err: error }, "could not share KIE's pause with other instances"),
    );
}
