import { route } from "@/app/_lib/route";
import { ApiError } from "@/lib/http/errors";
import { preferredWaitSeconds } from "@/lib/http/prefer";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * A job's status, owner only (anyone else gets the same 404 as for an unknown id). With
 * `Prefer: wait=N` the answer is held until the job settles or N (≤ 25) seconds pass.
 */
export const GET = route<{ taskId: string }>("generate.status", async ({ request, app, params }) => {
  const user = await app.auth.authenticate(request);
  const waitSeconds = preferredWaitSeconds(request);
  const found = await app.generations.getForUser(user.id, params.taskId, {
    waitMs: (waitSeconds ?? 0) * 1000,
    signal: request.signal,
  });
  if (!found) throw new ApiError("not_found", "No such task.");
  const { job, remainingCredits, pollAfterMs } = found;
  const headers: Record<string, string> =
    waitSeconds === undefined ? {} : { "Preference-Applied": `wait=${waitSeconds}` };
  return json(
    {
      success: true,
      taskId: job.taskId,
      status: job.status,
      ...(job.queuePosition !== undefined && { queuePosition: job.queuePosition, etaMs: job.etaMs }),
      ...(job.imageUrl && { imageUrl: job.imageUrl, images: job.images }),
      ...(job.thumbnailUrl && { thumbnailUrl: job.thumbnailUrl }),
      ...(job.sourceUrl && { sourceUrl: job.sourceUrl, imageStored: job.imageStored }),
      ...(job.width && { width: job.width, height: job.height }),
      ...(job.warnings && { warnings: job.warnings }),
      ...(job.creditsUsed !== undefined && { creditsUsed: job.creditsUsed }),
      remainingCredits,
      ...(pollAfterMs !== undefined && { pollAfterMs }),
      ...(job.error && { error: job.error }),
      type: job.type,
      model: job.model,
      prompt: job.prompt,
      createdAt: job.createdAt,
      ...(job.settledAt && { settledAt: job.settledAt }),
    },
    200,
    headers,
  );
});
