import { route } from "@/app/_lib/route";
import { readJson } from "@/lib/http/body";
import { ApiError } from "@/lib/http/errors";
import { kieDebugRequestSchema } from "@/lib/http/kieDebugRequest";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * KIE's record of a task repeats the `callBackUrl` we sent, whose `token` lets anyone settle that
 * job: even an admin never sees it (DESIGN.md §6).
 */
function withoutCallbackTokens(record: unknown): unknown {
  const text = JSON.stringify(record) ?? "null";
  return JSON.parse(text.replace(/([?&]token=)[^&"\\\s]+/g, "$1[redacted]"));
}

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
    const record = await app.kie.getTaskStatus(body.taskId, { requestId });
    return json({ success: true, record: withoutCallbackTokens(record) });
  }
  log.warn({ adminId: user.id }, "debug route: creating a KIE task without credits");
  return json({ success: true, ...(await app.kie.generateImage(body.createTask, { requestId })) });
});
