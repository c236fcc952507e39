import { route } from "@/app/_lib/route";
import { openApiDocument } from "@/lib/http/openapi/document";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** The OpenAPI 3.1 document of this API, generated from the zod schemas (DESIGN.md §3). */
export const GET = route("openapi", async () =>
  Response.json(openApiDocument(), { headers: { "Cache-Control": "public, max-age=300" } }),
);
