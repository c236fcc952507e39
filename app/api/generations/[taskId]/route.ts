import { route } from "@/app/_lib/route";
import { ApiError } from "@/lib/http/errors";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * GET /api/generations/:taskId — one of the user's jobs, with its parent and children (edits) and
 * the jobs of its batch (`n` variations: the batch's status route, DESIGN.md §3).
 */
export const GET = route<{ taskId: string }>("generations.get", async ({ request, app, params }) => {
  const user = await app.auth.authenticate(request);
  const found = await app.generations.lineage(user.id, params.taskId);
  if (!found) throw new ApiError("not_found", "No such task.");
  return json({
    success: true,
    generation: found.job,
    parent: found.parent,
    children: found.children,
    batch: found.batch,
  });
});

/**
 * DELETE /api/generations/:taskId — the owner deletes a finished job (DESIGN.md §9): its stored
 * files go, and it leaves their history and status reads (404 from now on). The credit ledger
 * keeps its entries. Someone else's job is 404; a job still running is 400 (wait for its end).
 */
export const DELETE = route<{ taskId: string }>("generations.delete", async ({ request, app, params }) => {
  const user = await app.auth.authenticate(request);
  const outcome = await app.resultImages.deleteJob(user.id, params.taskId);
  if (outcome === "not_found") throw new ApiError("not_found", "No such task.");
  if (outcome === "open") {
    throw new ApiError("invalid_request", "This job is still running; delete it once it has ended.", {
      taskId: params.taskId,
    });
  }
  return json({ success: true, taskId: params.taskId, deleted: true });
});
