/**
 * Variations in the studio (DESIGN.md §3 `n`, §10 "Images"): a submission's answer as the runs the
 * page follows — one, or each job of the batch — and the newest batch, which the result column
 * shows as a grid.
 */
import { type GenerateAnswer, type GenerateInput, isBatch } from "@/lib/ui/api";
import type { Job } from "@/lib/ui/types";
import type { Run } from "./use-runs";

/** The runs an accepted submission starts, first job first (each followed on its own). */
export function runsOf(answer: GenerateAnswer, input: GenerateInput): Run[] {
  const now = Date.now();
  const jobs: Job[] = isBatch(answer)
    ? answer.generations.map((job) => ({ ...job, remainingCredits: answer.remainingCredits }))
    : [answer];
  return jobs.map((accepted) => ({
    taskId: accepted.taskId,
    job: {
      ...accepted,
      prompt: input.prompt,
      // The server accepted them, so they are among its values (the form offers only those).
      aspectRatio: (input.aspectRatio || undefined) as Job["aspectRatio"],
      outputFormat: input.outputFormat as Job["outputFormat"],
      createdAt: accepted.createdAt ?? new Date(now).toISOString(),
      ...(input.sourceTaskId && { parentTaskId: input.sourceTaskId }),
    },
    startedAt: now,
    input,
  }));
}

/** The newest run's batch, in the order asked, when it has more than one job; else empty. */
export function newestBatch(runs: readonly Run[]): Run[] {
  const batchId = runs[0]?.job.batchId;
  if (!batchId) return [];
  const batch = runs.filter((run) => run.job.batchId === batchId);
  return batch.length > 1 ? batch : [];
}
