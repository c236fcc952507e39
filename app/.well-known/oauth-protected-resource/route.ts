import { route } from "@/app/_lib/route";
import { protectedResourceMetadata, protectedResourceMetadataHeaders, publicOrigin } from "@/lib/mcp/auth";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * RFC 9728 protected-resource metadata for /api/mcp (DESIGN.md §3 "MCP"): the resource and the
 * authorization server (the Supabase project's, when SUPABASE_URL is set). Public.
 */
export const GET = route("oauth-protected-resource", async ({ request, app }) => {
  const origin = publicOrigin(request, app.config.appUrl);
  return Response.json(protectedResourceMetadata(origin, app.config.auth.supabaseUrl), {
    headers: protectedResourceMetadataHeaders(app.config.appUrl),
  });
});
