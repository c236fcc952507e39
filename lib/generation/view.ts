import { type Generation, type GenerationStatus, OPEN_GENERATION_STATUSES } from "@/lib/db/schema";
import type { ImageLinks } from "@/lib/storage/links";

/** The public statuses (DESIGN.md §3): a job in our line is `pending`, with its place in line. */
export type PublicJobStatus = Exclude<GenerationStatus, "queued">;

/** A job as the public API shows it (DESIGN.md §3). */
export interface JobView {
  /** KIE's task id once known (what KIE and its callbacks name), else our job id. */
  taskId: string;
  status: PublicJobStatus;
  /** While the job waits in our line for KIE (docs/JOBS.md "The line"): 1 = next. */
  queuePosition?: number;
  /** About how long until it is sent to KIE, from its place and KIE's create budget. */
  etaMs?: number;
  type: Generation["type"];
  model: string;
  prompt: string;
  aspectRatio?: string;
  outputFormat?: string;
  /** Our signed link to the image (DESIGN.md §9); it keeps working after KIE deletes its file. */
  imageUrl?: string;
  images?: string[];
  /** The 256-px WebP thumbnail (our signed link). */
  thumbnailUrl?: string;
  /** KIE's own URL of the result (expires after a day or more). */
  sourceUrl?: string;
  /** False while the result is still only on KIE (our store was down); the reconciler copies it. */
  imageStored?: boolean;
  width?: number;
  height?: number;
  /** Credits kept for this job: its cost once it succeeded, 0 when it failed or timed out. */
  creditsUsed?: number;
  error?: { code: string; message: string };
  /** Things worth knowing about the result (e.g. the model ignored the aspect ratio). */
  warnings?: string[];
  /** The job whose result this one edited (`sourceTaskId`): its parent in the edit tree. */
  parentTaskId?: string;
  /** The request that made it (`n` variations share one); absent on jobs made before batches. */
  batchId?: string;
  /** What it was asked, as a POST /api/generate body ("Run again"); absent on older jobs. */
  request?: Record<string, unknown>;
  createdAt: string;
  settledAt?: string;
}

export function publicTaskId(job: Pick<Generation, "id" | "kieTaskId">): string {
  return job.kieTaskId ?? job.id;
}

/**
 * With `links`, `imageUrl`/`images` are our own signed links (served from our store, or from
 * KIE's URL until the copy is made); without, KIE's URLs as they are.
 */
export function toJobView(job: Generation, links?: ImageLinks): JobView {
  const params = job.params as {
    aspectRatio?: string;
    outputFormat?: string;
    parentTaskId?: string;
    request?: Record<string, unknown>;
  };
  const settled = !(OPEN_GENERATION_STATUSES as readonly string[]).includes(job.status);
  return {
    taskId: publicTaskId(job),
    status: job.status === "queued" ? "pending" : job.status,
    type: job.type,
    model: job.model,
    prompt: job.prompt,
    ...(params.aspectRatio && { aspectRatio: params.aspectRatio }),
    ...(params.outputFormat && { outputFormat: params.outputFormat }),
    ...imageFields(job, links),
    ...(settled && { creditsUsed: job.status === "succeeded" ? job.cost : 0 }),
    ...(job.errorCode && { error: { code: job.errorCode, message: job.errorMessage ?? "" } }),
    ...(job.warnings && job.warnings.length > 0 && { warnings: job.warnings }),
    ...(params.parentTaskId && { parentTaskId: params.parentTaskId }),
    ...(job.batchId && { batchId: job.batchId }),
    ...(params.request && { request: params.request }),
    createdAt: job.createdAt.toISOString(),
    ...(job.settledAt && { settledAt: job.settledAt.toISOString() }),
  };
}

function imageFields(job: Generation, links?: ImageLinks): Partial<JobView> {
  const source = job.resultUrls?.[0];
  if (!source || job.imagesDeletedAt) return {};
  if (!links) return { imageUrl: source, images: job.resultUrls ?? [] };
  const imageUrl = links.url(job.id);
  return {
    imageUrl,
    images: [imageUrl],
    thumbnailUrl: links.url(job.id, "thumb"),
    sourceUrl: source,
    imageStored: job.imageStoredAt !== null,
    ...(job.imageWidth && job.imageHeight && { width: job.imageWidth, height: job.imageHeight }),
  };
}
