import { route } from "@/app/_lib/route";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * Liveness and wiring: which KIE (simulator or real), whether the database answers, and the line
 * of jobs waiting for a KIE create token (how many, and how long the oldest has waited).
 */
export const GET = route("health", async ({ app }) => {
  const dbUp = await app.database.ping();
  const line = dbUp ? await app.generations.lineStatus().catch(() => undefined) : undefined;
  return json(
    {
      ok: dbUp,
      kie: app.kieMode,
      db: dbUp ? "ok" : "down",
      database: app.database.kind,
      ...(line && { line }),
    },
    dbUp ? 200 : 503,
  );
});
