/**
 * DNS rebinding (DESIGN.md §6). While dev sign-in is on, listening on loopback is all that keeps
 * "anyone signs in as anyone" local, and that is not enough: a page the operator opens can point
 * its own name at 127.0.0.1 and then call us as its own origin. The browser still sends that
 * name in `Host` (and `Origin`), so only our own names are served: localhost, 127.0.0.1, [::1]
 * and APP_URL's host, on any port. Pure, so both proxy.ts (pages) and route.ts (API) use it.
 */

const LOCAL_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/** The request's host name (no port), lower-case; undefined when it does not parse. */
function hostNameOf(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

function isServedName(name: string | undefined, appUrl: string | undefined): boolean {
  if (name === undefined) return false;
  if (LOCAL_NAMES.includes(name)) return true;
  return appUrl !== undefined && hostNameOf(new URL(appUrl).host) === name;
}

/**
 * True when dev sign-in must not answer this request: its `Host` is not one of ours, or it says
 * it comes from a page (`Origin`) whose host is not one of ours. Checked whatever the credentials.
 */
export function isForeignHost(request: Request, appUrl: string | undefined): boolean {
  const host = request.headers.get("host") ?? new URL(request.url).host;
  if (!isServedName(hostNameOf(host), appUrl)) return true;
  const origin = request.headers.get("origin");
  if (origin === null) return false;
  let originHost: string;
  try {
    originHost = new URL(origin).host; // "null" (an opaque origin) does not parse: refused
  } catch {
    return true;
  }
  return !isServedName(hostNameOf(originHost), appUrl);
}
