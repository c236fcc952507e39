import { route } from "@/app/_lib/route";
import { ApiError } from "@/lib/http/errors";
import { clientIp } from "@/lib/http/rateLimit";
// Not the lib/security barrel: the proxy has no use for sharp.
import { fetchProxiedImage } from "@/lib/security/imageProxy";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * Images at a URL do not change (KIE names each file once); the browser may keep one for a day,
 * but only for the credentials that fetched it: after sign-out, the cached copy must not show.
 */
const CACHE_CONTROL = "private, max-age=86400";
const VARY = "Cookie, Authorization";

/**
 * GET /api/image-proxy?url=… — streams an image from an allowed host to a signed-in user, so the
 * page can show KIE's results (and the simulator's) from our own origin.
 */
export const GET = route("image-proxy", async ({ request, app }) => {
  await app.rateLimiter.consumeIp(clientIp(request, app.config.trustedProxyHops), "image-proxy"); // 429
  await app.auth.authenticate(request);
  const url = new URL(request.url).searchParams.get("url");
  if (!url) throw new ApiError("invalid_request", "The url query parameter is required.");

  const image = await fetchProxiedImage(url, {
    allowedHosts: app.config.imageProxyAllowedHosts,
    trustedOrigin: app.imageProxy.trustedOrigin,
    signal: request.signal,
    dispatcher: app.imageProxy.dispatcher,
  });
  const headers = new Headers({
    "Content-Type": image.contentType,
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Disposition": "inline",
    "Cache-Control": CACHE_CONTROL,
    Vary: VARY,
  });
  if (image.contentLength !== undefined) headers.set("Content-Length", String(image.contentLength));
  return new Response(image.body, { status: 200, headers });
});
