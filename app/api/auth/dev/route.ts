import { route } from "@/app/_lib/route";
import { DEV_TOKEN_DEFAULT_TTL_SECONDS, devSignInSchema, issueDevToken, sessionCookie } from "@/lib/auth";
import { readJson } from "@/lib/http/body";
import { ApiError } from "@/lib/http/errors";
import { clientIp } from "@/lib/http/rateLimit";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

const SESSION_TTL_SECONDS = DEV_TOKEN_DEFAULT_TTL_SECONDS;

/**
 * Local sign-in for the embedded mode: any email, a Supabase-format token, never an admin.
 * 404 with Supabase; limited per client address (each new email is a new account with credits).
 */
export const POST = route("auth.dev", async ({ request, app, log }) => {
  if (app.config.auth.mode !== "dev" || !app.devSecret) throw new ApiError("not_found");
  await app.rateLimiter.consumeIp(clientIp(request, app.config.trustedProxyHops), "sign-in"); // 429
  const { email } = await readJson(request, devSignInSchema); // 415 unless application/json
  const token = await issueDevToken({ email }, app.devSecret, { ttlSeconds: SESSION_TTL_SECONDS });
  await app.accounts.ensure(token.user.id, token.user.email);
  log.info({ userId: token.user.id }, "dev sign-in");
  const secure = app.config.appUrl?.startsWith("https://") ?? false;
  return json(
    { success: true, accessToken: token.accessToken, user: token.user, expiresAt: token.expiresAt },
    200,
    {
      "Set-Cookie": sessionCookie(token.accessToken, { secure, maxAgeSeconds: SESSION_TTL_SECONDS }),
    },
  );
});
