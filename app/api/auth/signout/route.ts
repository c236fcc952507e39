import { route } from "@/app/_lib/route";
import { clearSessionCookie } from "@/lib/auth";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * Ends the session (its token, bearer or cookie, is refused from now on, wherever a copy of it is)
 * and clears the session cookie. Needs no valid session: an expired one is cleared too.
 */
export const POST = route("auth.signout", async ({ request, app }) => {
  await app.auth.signOut(request);
  const secure = app.config.appUrl?.startsWith("https://") ?? false;
  return new Response(null, {
    status: 204,
    headers: { "Set-Cookie": clearSessionCookie({ secure }), "Cache-Control": "no-store" },
  });
});
