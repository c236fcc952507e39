/**
 * Cross-site request forgery (DESIGN.md §3 "Requests"). A browser attaches the session cookie to
 * requests any site makes, and a form or a CORS-simple fetch (multipart, text/plain, no type)
 * needs no preflight. So a cookie request with an unsafe method must prove it comes from this
 * app's own pages: `Origin` equal to the app's origin, or `Sec-Fetch-Site: same-origin`. Bearer
 * requests are exempt (a site cannot make the browser send our token), but only those whose token
 * the authenticator uses: a header that merely starts with "Bearer" proves nothing.
 */
import { bearerToken } from "@/lib/auth";
import { ApiError } from "./errors";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * 403 `forbidden` for an unsafe request that a foreign site could have made with the user's
 * cookies. `appUrl` (APP_URL) names the app's origin; without it the origin is the request's own
 * host (the Host header a browser sends for the page it is on).
 */
export function assertSameOrigin(request: Request, appUrl: string | undefined): void {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return;
  if (bearerToken(request.headers.get("authorization"))) return;
  const origin = request.headers.get("origin");
  const site = request.headers.get("sec-fetch-site")?.toLowerCase();
  // undefined: the browser did not say; false: it said another site.
  const originOk = origin === null ? undefined : origin !== "null" && isOwnOrigin(origin, request, appUrl);
  const siteOk = site === undefined ? undefined : site === "same-origin";
  if (!request.headers.has("cookie")) {
    // No session at stake, unless a foreign page asks (login CSRF: signing the victim in to the
    // attacker's account). Clients that are not browsers send neither header.
    if (originOk === false || (siteOk === false && site !== "none")) throw refusal();
    return;
  }
  if (originOk === false || siteOk === false) throw refusal();
  if (originOk || siteOk) return;
  throw refusal(); // a cookie request that says nothing about where it comes from
}

function refusal(): ApiError {
  return new ApiError("forbidden", "This request must come from the app's own pages.");
}

function isOwnOrigin(origin: string, request: Request, appUrl: string | undefined): boolean {
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (appUrl) return parsed.origin === new URL(appUrl).origin;
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return false;
  // A page's browser cannot set these; behind a proxy the public host may be in X-Forwarded-Host.
  const hosts = [
    request.headers.get("host") ?? new URL(request.url).host,
    request.headers.get("x-forwarded-host"),
  ];
  return hosts.some((host) => host?.split(",")[0]?.trim().toLowerCase() === parsed.host);
}
