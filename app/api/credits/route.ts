import { route } from "@/app/_lib/route";
import { balance } from "@/lib/credits";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** The signed-in user's credit balance (a new user is granted CREDITS_INITIAL first). */
export const GET = route("credits", async ({ request, app }) => {
  const user = await app.auth.authenticate(request);
  await app.accounts.ensure(user.id, user.email);
  return json({ success: true, balance: (await balance(app.database.db, user.id)) ?? 0 });
});
