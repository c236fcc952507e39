/**
 * What happens around a createTask, on both paths that send one (create.ts directly, drain.ts
 * from the line): recording the task KIE created, and KIE's 429.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { fullJitterDelay } from "@/lib/backoff";
import { attachKieTask } from "@/lib/db/generations";
import type { GenerationContext } from "./context";

/** Tries at recording a created task before the error is given up on. */
const ATTACH_ATTEMPTS = 4;
const ATTACH_BACKOFF = { baseMs: 200, maxMs: 2_000 };

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
  for (let attempt = 0; ; attempt++) {
    try {
      return await attachKieTask(ctx.db, jobId, created.taskId, created.warnings ?? []);
    } catch (error) {
      if (attempt + 1 >= ATTACH_ATTEMPTS) throw error;
      ctx.logger.warn(
        { jobId, kieTaskId: created.taskId, err: error },
        "could not record the KIE task; retrying",
      );
      await sleep(fullJitterDelay(attempt, ATTACH_BACKOFF));
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
