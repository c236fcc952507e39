import { route } from "@/app/_lib/route";
import { clearSessionCookie } from "@/lib/auth";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Clears the session cookie. Signing out needs no valid session: an expired one is cleared too. */
export const POST = route("auth.signout", async ({ app }) => {
  const secure = app.config.appUrl?.startsWith("https://") ?? false;
  return new Response(null, {
    status: 204,
    headers: { "Set-Cookie": clearSessionCookie({ secure }), "Cache-Control": "no-store" },
  });
});
