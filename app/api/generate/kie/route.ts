import { readJson } from "@/lib/http/body";
import { ApiError } from "@/lib/http/errors";
import { kieDebugRequestSchema } from "@/lib/http/kieDebugRequest";
import { json, route } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * Raw KIE access for operators (KIE_DEBUG_ROUTE=true, admins only): `{ taskId }` reads a task as
 * KIE reports it; `{ createTask: {…} }` creates one without touching credits.
 */
export const POST = route("generate.kie-debug", async ({ request, app, requestId, log }) => {
  if (!app.config.kie.debugRoute) throw new ApiError("not_found");
  const user = await app.auth.authenticate(request);
  if (!user.isAdmin) throw new ApiError("forbidden", "This debugging route is for administrators.");
  const body = await readJson(request, kieDebugRequestSchema);
  if ("taskId" in body) {
    return json({ success: true, record: await app.kie.getTaskStatus(body.taskId, { requestId }) });
  }
  log.warn({ adminId: user.id }, "debug route: creating a KIE task without credits");
  return json({ success: true, ...(await app.kie.generateImage(body.createTask, { requestId })) });
});
