/**
 * Variations in the studio (DESIGN.md §3 `n`, §10 "Images"): a submission's answer as the runs the
 * page follows — one, or each job of the batch — and the newest batch, which the result column
 * shows as a grid.
 */
import { type GenerateAnswer, type GenerateInput, inputFromRequest, isBatch } from "@/lib/ui/api";
import type { GenerationOptionsValue } from "@/lib/ui/modelOptions";
import { type Job, priceOf, type StudioSettings } from "@/lib/ui/types";
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

/**
 * The price of what the form asks — the whole batch ("Images": each image is charged on its own)
 * — and, when the balance is below it, the reason Generate is disabled.
 */
export function priceCheck(
  settings: StudioSettings,
  options: GenerationOptionsValue,
  balance: number | undefined,
): { cost: number; shortOfCredits?: string } {
  const model = settings.models.find((m) => m.id === options.model);
  const cost = (model ? priceOf(model, options.resolution) : settings.cost) * (options.count ?? 1);
  if (balance === undefined || balance >= cost) return { cost };
  return {
    cost,
    shortOfCredits: `You have ${balance === 1 ? "1 credit" : `${balance} credits`}; this needs ${cost}.`,
  };
}

/**
 * "Run again": exactly what the job was asked (its stored request, references by their stored
 * ids), else what this page sent; nothing for a job that has neither.
 */
export function againOf(run: Run, generate: (input: GenerateInput) => unknown): (() => void) | undefined {
  const asked = run.job.request;
  if (asked) return () => void generate(inputFromRequest(asked));
  const sent = run.input;
  return sent ? () => void generate(sent) : undefined;
}
