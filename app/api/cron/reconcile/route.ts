import { route } from "@/app/_lib/route";
import { ApiError } from "@/lib/http/errors";
import { json } from "@/lib/http/route";
import { bearerMatches } from "@/lib/security/secrets";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * One reconciler sweep, for a cron (serverless deployments have no long-lived timer). Needs
 * `Authorization: Bearer <CRON_SECRET>`; without CRON_SECRET the route does not exist.
 */
const sweep = route("cron.reconcile", async ({ request, app }) => {
  const secret = app.config.cronSecret;
  if (!secret) throw new ApiError("not_found");
  if (!bearerMatches(request.headers.get("authorization"), secret))
    throw new ApiError("unauthorized", "A valid CRON_SECRET bearer token is required.");
  return json({ success: true, ...(await app.sweep()) });
});

export const POST = sweep;
// Vercel Cron calls with GET and the same bearer token.
export const GET = sweep;
