import type { Generation, GenerationStatus } from "@/lib/db/schema";

/** A job as the public API shows it (DESIGN.md §3). */
export interface JobView {
  /** KIE's task id once known (what KIE and its callbacks name), else our job id. */
  taskId: string;
  status: GenerationStatus;
  type: Generation["type"];
  model: string;
  prompt: string;
  aspectRatio?: string;
  outputFormat?: string;
  imageUrl?: string;
  images?: string[];
  /** Credits kept for this job: its cost once it succeeded, 0 when it failed or timed out. */
  creditsUsed?: number;
  error?: { code: string; message: string };
  createdAt: string;
  settledAt?: string;
}

export function publicTaskId(job: Pick<Generation, "id" | "kieTaskId">): string {
  return job.kieTaskId ?? job.id;
}

export function toJobView(job: Generation): JobView {
  const params = job.params as { aspectRatio?: string; outputFormat?: string };
  const images = job.resultUrls ?? undefined;
  const settled = job.status !== "pending" && job.status !== "processing";
  return {
    taskId: publicTaskId(job),
    status: job.status,
    type: job.type,
    model: job.model,
    prompt: job.prompt,
    ...(params.aspectRatio && { aspectRatio: params.aspectRatio }),
    ...(params.outputFormat && { outputFormat: params.outputFormat }),
    ...(images && images.length > 0 && { imageUrl: images[0], images }),
    ...(settled && { creditsUsed: job.status === "succeeded" ? job.cost : 0 }),
    ...(job.errorCode && { error: { code: job.errorCode, message: job.errorMessage ?? "" } }),
    createdAt: job.createdAt.toISOString(),
    ...(job.settledAt && { settledAt: job.settledAt.toISOString() }),
  };
}
