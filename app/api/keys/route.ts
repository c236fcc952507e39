import { route } from "@/app/_lib/route";
import { assertSignedInPerson, createApiKeySchema, createKey, listKeys } from "@/lib/http/apiKeys";
import { readJson } from "@/lib/http/body";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** GET /api/keys — the user's personal API keys that still work (never the keys themselves). */
export const GET = route("keys.list", async ({ request, app }) => {
  const user = await app.auth.authenticate(request);
  return json({ success: true, keys: await listKeys(app.database.db, user.id) });
});

/**
 * POST /api/keys `{ name }` — a new key, shown this once (201). Signed-in people only: a request
 * made with a key or an OAuth client's token is 403. No Idempotency-Key: a replayed answer would
 * have to store the key.
 */
export const POST = route("keys.create", async ({ request, app, log }) => {
  const user = await app.auth.authenticate(request);
  assertSignedInPerson(user, "create API keys");
  const { name } = await readJson(request, createApiKeySchema);
  await app.accounts.ensure(user.id, user.email);
  const created = await createKey(app.database.db, user.id, name);
  log.info({ userId: user.id, keyId: created.key.id }, "API key created");
  return json({ success: true, ...created }, 201);
});
