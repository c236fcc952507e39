import { route } from "@/app/_lib/route";
import { balance } from "@/lib/credits";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Who is signed in, their balance, and which modes the server runs in (the web UI's header). */
export const GET = route("me", async ({ request, app }) => {
  const user = await app.auth.authenticate(request);
  await app.accounts.ensure(user.id, user.email);
  return json({
    success: true,
    user: { id: user.id, email: user.email ?? null, isAdmin: user.isAdmin },
    balance: (await balance(app.database.db, user.id)) ?? 0,
    auth: app.config.auth.mode,
    kie: app.kieMode,
  });
});
