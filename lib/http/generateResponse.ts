import { type CreateGenerationResult, JobNotSucceededError } from "@/lib/generation";
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
export function generationResponse(result: CreateGenerationResult): Response {
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
