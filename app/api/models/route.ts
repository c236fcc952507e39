import { route } from "@/app/_lib/route";
import { publicCatalog } from "@/lib/catalog";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** The model catalogue with this server's prices (DESIGN.md §3): public, the same for everyone. */
export const GET = route("models", async ({ app }) => {
  const { credits, maxUploadBytes } = app.config;
  const models = publicCatalog(
    { perGeneration: credits.perGeneration, byModel: credits.byModel },
    maxUploadBytes,
  );
  return Response.json(
    { success: true, models },
    { headers: { "Cache-Control": "public, max-age=300, stale-while-revalidate=60" } },
  );
});
