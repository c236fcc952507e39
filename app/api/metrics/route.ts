import { route } from "@/app/_lib/route";
import { ApiError } from "@/lib/http/errors";
import { renderMetrics } from "@/lib/observability/metricsEndpoint";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Prometheus text; bearer METRICS_TOKEN when it is set, else 404 with Supabase sign-in (DESIGN.md §3). */
export const GET = route("metrics", async ({ request, app }) => {
  const answer = await renderMetrics({
    authorization: request.headers.get("authorization"),
    token: app.config.metricsToken,
    authMode: app.config.auth.mode,
    registry: app.metrics.registry,
  });
  if (!answer.authorized && answer.reason === "closed") throw new ApiError("not_found");
  if (!answer.authorized) {
    throw new ApiError("unauthorized", "The metrics endpoint needs Authorization: Bearer <METRICS_TOKEN>.");
  }
  return new Response(answer.body, {
    headers: { "Content-Type": answer.contentType, "Cache-Control": "no-store" },
  });
});
