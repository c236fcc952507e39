/**
 * What an MCP tool answers about jobs (DESIGN.md §3 "MCP"): structured content (job id, status,
 * credits charged and remaining), a resource_link per image (our signed URLs, fetched by the
 * client when it wants the bytes) and at most one small thumbnail inline — never a full image as
 * base64, which overflows clients' tool-result caps.
 */
import { z } from "zod";

/** The job fields the tools read from the API's answers (lib/http/openapi/schemas.ts). */
export interface JobAnswer {
  taskId: string;
  status: string;
  images?: string[];
  imageUrl?: string;
  thumbnailUrl?: string;
  creditsUsed?: number;
  remainingCredits?: number;
  error?: { code: string; message: string };
  queuePosition?: number;
  etaMs?: number;
  batchId?: string;
}

export const jobOutputSchema = z.object({
  taskId: z.string(),
  status: z.enum(["pending", "processing", "succeeded", "failed", "timeout"]),
  images: z.array(z.string()).describe("Signed image URLs (expire; get_generation gives fresh ones)."),
  creditsCharged: z.number().int().nullable().describe("Once ended: the price if it succeeded, else 0."),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

export const generationOutputSchema = z.object({
  taskId: z.string().describe("The first (or only) job: pass it to get_generation."),
  status: z.enum(["pending", "processing", "succeeded", "failed", "timeout"]),
  jobs: z.array(jobOutputSchema),
  creditsCharged: z.number().int().describe("Captured so far for these jobs."),
  remainingCredits: z.number().int().nullable(),
  batchId: z.string().optional(),
  next: z.string().optional().describe("What to do next, for a job still running."),
});

export type GenerationOutput = z.infer<typeof generationOutputSchema>;

export interface Thumbnail {
  data: string;
  mimeType: string;
}

/** The largest thumbnail inlined (a 256-px WebP is a few KB; anything bigger stays a link). */
export const MAX_INLINE_THUMBNAIL_BYTES = 64 * 1024;

const OPEN = new Set(["pending", "processing"]);

export function isOpen(status: string): boolean {
  return OPEN.has(status);
}

function absolute(url: string, origin: string): string {
  return new URL(url, origin).toString();
}

export function jobOutput(job: JobAnswer, origin: string): z.infer<typeof jobOutputSchema> {
  const images = job.images ?? (job.imageUrl ? [job.imageUrl] : []);
  return {
    taskId: job.taskId,
    status: jobOutputSchema.shape.status.catch("pending").parse(job.status),
    images: images.map((url) => absolute(url, origin)),
    creditsCharged: job.creditsUsed ?? (isOpen(job.status) ? null : 0),
    ...(job.error && { error: { code: job.error.code, message: job.error.message } }),
  };
}

/** The overall status of several jobs: open while any is, else the first job's. */
function overall(jobs: z.infer<typeof jobOutputSchema>[]): GenerationOutput["status"] {
  const open = jobs.find((job) => isOpen(job.status));
  return open ? open.status : (jobs[0]?.status ?? "pending");
}

export function generationOutput(
  jobs: JobAnswer[],
  origin: string,
  remainingCredits: number | null,
  batchId?: string,
): GenerationOutput {
  const views = jobs.map((job) => jobOutput(job, origin));
  const status = overall(views);
  return {
    taskId: views[0]?.taskId ?? "",
    status,
    jobs: views,
    creditsCharged: views.reduce((sum, job) => sum + (job.creditsCharged ?? 0), 0),
    remainingCredits,
    ...(batchId && { batchId }),
    ...(isOpen(status) && {
      next: `Still running: call get_generation with taskId ${views.find((j) => isOpen(j.status))?.taskId} in a few seconds.`,
    }),
  };
}

/** The tool result: the structured output, a sentence, one link per image, at most one thumbnail. */
export function toolResult(output: GenerationOutput, thumbnail?: Thumbnail) {
  const links = output.jobs.flatMap((job) =>
    job.images.map((uri, index) => ({
      type: "resource_link" as const,
      uri,
      name: `${job.taskId}${job.images.length > 1 ? `-${index + 1}` : ""}`,
      description: "The generated image (a signed link that expires).",
    })),
  );
  const failed = output.jobs.filter((job) => job.error).map((job) => `${job.taskId}: ${job.error?.message}`);
  const text = [
    `Job ${output.taskId}: ${output.status}.`,
    output.creditsCharged > 0 ? `${output.creditsCharged} credits charged.` : "",
    output.remainingCredits !== null ? `${output.remainingCredits} credits left.` : "",
    ...failed,
    output.next ?? "",
  ]
    .filter(Boolean)
    .join(" ");
  return {
    structuredContent: output,
    content: [
      { type: "text" as const, text },
      ...links,
      ...(thumbnail ? [{ type: "image" as const, data: thumbnail.data, mimeType: thumbnail.mimeType }] : []),
    ],
  };
}

/** A refusal of the API (its §3 error) as a tool error the model can read and act on. */
export function toolError(code: string, message: string) {
  return { isError: true, content: [{ type: "text" as const, text: `${code}: ${message}` }] };
}
