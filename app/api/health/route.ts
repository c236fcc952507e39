import { route } from "@/app/_lib/route";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Liveness and wiring: which KIE (simulator or real) and whether the database answers. */
export const GET = route("health", async ({ app }) => {
  const dbUp = await app.database.ping();
  return json(
    { ok: dbUp, kie: app.kieMode, db: dbUp ? "ok" : "down", database: app.database.kind },
    dbUp ? 200 : 503,
  );
});
