import { type AnyCreateResult, type BatchGenerationResult, JobNotSucceededError } from "@/lib/generation";
import { json } from "./route";

/** `Prefer: respond-async` forces async, `Prefer: wait` forces sync (RFC 7240); else the default. */
export function responseMode(request: Request, asyncByDefault: boolean): "sync" | "async" {
  const prefer = request.headers.get("prefer")?.toLowerCase() ?? "";
  const tokens = prefer.split(/[,;]/).map((token) => token.trim().split("=")[0]);
  if (tokens.includes("respond-async")) return "async";
  if (tokens.includes("wait")) return "sync";
  return asyncByDefault ? "async" : "sync";
}

/** The public shape of a create result (DESIGN.md §3): 200, 202, or the job's error. */
export function generationResponse(result: AnyCreateResult): Response {
  if (result.outcome === "batch") return batchResponse(result);
  const { job, remainingCredits } = result;
  const warnings = [...result.warnings, ...(job.warnings ?? [])];
  const extra = warnings.length > 0 ? { warnings } : {};
  if (result.outcome === "accepted") {
    const statusUrl = `/api/generate/${encodeURIComponent(job.taskId)}`;
    return json(
      {
        success: true,
        taskId: job.taskId,
        status: "pending",
        ...(job.queuePosition !== undefined && { queuePosition: job.queuePosition, etaMs: job.etaMs }),
        statusUrl,
        pollAfterMs: result.pollAfterMs,
        remainingCredits,
        ...extra,
      },
      202,
      { Location: statusUrl },
    );
  }
  // A failure is answered by the error table, like every other error (DESIGN.md §3).
  if (result.outcome === "budget_exhausted" || job.status !== "succeeded") {
    throw new JobNotSucceededError(job, result.outcome === "budget_exhausted");
  }
  return json({
    success: true,
    taskId: job.taskId,
    status: "succeeded",
    imageUrl: job.imageUrl,
    images: job.images,
    ...(job.thumbnailUrl && { thumbnailUrl: job.thumbnailUrl }),
    ...(job.sourceUrl && { sourceUrl: job.sourceUrl, imageStored: job.imageStored }),
    ...(job.width && { width: job.width, height: job.height }),
    creditsUsed: job.creditsUsed,
    remainingCredits,
    ...extra,
  });
}

const statusUrlOf = (taskId: string) => `/api/generate/${encodeURIComponent(taskId)}`;

/**
 * `n` > 1 (DESIGN.md §3, generateBatchSchema): every job of the batch, each with its own status
 * URL; 202 while any is open (`statusUrl`, `Location`: the first job's detail, whose `batch` lists
 * them all), 200 once all have ended — a job that failed says why in its `error`, and only the
 * jobs that succeeded are charged (`creditsUsed`).
 */
function batchResponse(result: BatchGenerationResult): Response {
  const open = result.jobs.some((job) => job.status === "pending" || job.status === "processing");
  const generations = result.jobs.map((job) => ({ ...job, statusUrl: statusUrlOf(job.taskId) }));
  const first = result.jobs[0]?.taskId ?? "";
  const statusUrl = `/api/generations/${encodeURIComponent(first)}`;
  const body = {
    success: true,
    batchId: result.batchId,
    status: open ? "pending" : "settled",
    generations,
    creditsUsed: result.jobs.reduce((sum, job) => sum + (job.creditsUsed ?? 0), 0),
    remainingCredits: result.remainingCredits,
    ...(open && { statusUrl, pollAfterMs: result.pollAfterMs }),
  };
  return open ? json(body, 202, { Location: statusUrl }) : json(body);
}
