/**
 * Security headers for every page (DESIGN.md §6), set in this one place. Each request gets a fresh
 * CSP nonce: the policy goes on the response, and on the request too, where Next.js reads the
 * nonce and stamps it on its own scripts; `x-nonce` hands it to the layout (next-themes' script).
 *
 * API routes are left out on purpose: Next buffers the body of every request a proxy sees (up to
 * 10 MB, truncating beyond), which would defeat the streamed body limits of lib/http/body.ts.
 * lib/http/route.ts puts the same nosniff/Referrer-Policy/HSTS headers on every API answer.
 */
import { type NextRequest, NextResponse } from "next/server";
import { type AppConfig, getConfig } from "@/config";
import { isForeignHost } from "@/lib/http/rebinding";
import { createNonce, pageSecurityHeaders } from "@/lib/http/securityHeaders";
import { presignedUrlOrigin } from "@/lib/storage/presignedOrigin";

export function proxy(request: NextRequest): NextResponse {
  const nonce = createNonce();
  const config = configOrNothing();
  const headers = pageSecurityHeaders({
    nonce,
    // NODE_ENV is Next's own build switch (`next dev` vs a production build), not app configuration.
    development: process.env.NODE_ENV === "development",
    appUrl: config?.appUrl,
    supabaseUrl: config?.auth.supabaseUrl,
    imageOrigins: imageOriginsOf(config),
  });
  // DNS rebinding (DESIGN.md §6): while dev sign-in is on, only our own host names are served.
  if (config?.auth.mode === "dev" && isForeignHost(request, config.appUrl)) {
    const refusal = new NextResponse("Forbidden: unknown host.", {
      status: 403,
      headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" },
    });
    for (const [name, value] of Object.entries(headers)) refusal.headers.set(name, value);
    return refusal;
  }
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("x-nonce", nonce);
  requestHeaders.set("Content-Security-Policy", headers["Content-Security-Policy"]!);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

/** With S3 and its redirect on, images come from the bucket's presigned URLs (DESIGN.md §9). */
function imageOriginsOf(config: AppConfig | undefined): string[] {
  const store = config?.images.store;
  if (!config?.images.presignedRedirect || store?.kind !== "s3") return [];
  return [presignedUrlOrigin(store)];
}

/** A bad environment is reported by the server's start; the page still gets the strict policy. */
function configOrNothing(): AppConfig | undefined {
  try {
    return getConfig();
  } catch {
    return undefined;
  }
}

/**
 * Every path but API routes (see above), Next's built files and its image optimizer (which only
 * answers images or plain text). Anything else may be an HTML page — `/api` itself,
 * `/_next/image/x`, `/favicon.ico` (the icon is app/icon.svg) are Next's not-found page — and gets
 * the nonce CSP.
 */
export const config = {
  matcher: ["/((?!api/|_next/static/|_next/image$).*)"],
};
