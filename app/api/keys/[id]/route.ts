import { route } from "@/app/_lib/route";
import { revokeKey } from "@/lib/http/apiKeys";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * DELETE /api/keys/:id — revokes one of the user's keys: refused from the next request on, on every
 * instance. Another user's key or an unknown id: 404. A key may revoke itself (rotation).
 */
export const DELETE = route<{ id: string }>("keys.revoke", async ({ request, app, params, log }) => {
  const user = await app.auth.authenticate(request);
  await revokeKey(app.database.db, user.id, params.id);
  log.info({ userId: user.id, keyId: params.id }, "API key revoked");
  return json({ success: true, id: params.id, revoked: true });
});
