/**
 * /api/mcp as an OAuth protected resource (MCP authorization, RFC 9728; DESIGN.md §3 "MCP"):
 * which bearers it takes, the 401 challenge that names the metadata document, and that document.
 */
import type { AuthUser } from "@/lib/auth";

export const MCP_PATH = "/api/mcp";
export const RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";

/** A Host header's shape: a DNS name or IPv4 address, or a bracketed IPv6 one; an optional port. */
const HOST = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * The public origin: APP_URL when set (set it behind a proxy: a Host header proves nothing there);
 * else the request's scheme and the Host the client asked for (Next's request.url names its own
 * bind address, not what the client used; while dev sign-in is on only our own hosts get here).
 */
export function publicOrigin(request: Request, appUrl: string | undefined): string {
  if (appUrl) return new URL(appUrl).origin;
  const url = new URL(request.url);
  const host = request.headers.get("host");
  // The client writes the Host: only a host name or address (and port) goes into the challenge and
  // the document, never quotes, paths or user info (`x" error="…` would add a parameter of its own).
  return host && HOST.test(host) ? `${url.protocol}//${host}` : url.origin;
}

/** `WWW-Authenticate` of a 401 from /api/mcp: where a client learns how to get a token. */
export function mcpChallenge(origin: string): string {
  return `Bearer resource_metadata="${origin}${RESOURCE_METADATA_PATH}"`;
}

/** RFC 9728's document: this resource, and the Supabase project's auth server when there is one. */
export function protectedResourceMetadata(origin: string, supabaseUrl: string | undefined) {
  return {
    resource: `${origin}${MCP_PATH}`,
    authorization_servers: supabaseUrl ? [`${new URL(supabaseUrl).origin}/auth/v1`] : [],
    bearer_methods_supported: ["header"],
    resource_name: "Nano Banana Studio",
    resource_documentation: `${origin}/keys`,
  };
}

/**
 * The document's cache headers: public for 5 minutes; without APP_URL it names the Host it was asked
 * on, so a shared cache must key it by Host (else one client's Host is served to the others).
 */
export function protectedResourceMetadataHeaders(appUrl: string | undefined): Headers {
  const headers = new Headers({ "Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*" });
  if (!appUrl) headers.set("Vary", "Host");
  return headers;
}

/**
 * /api/mcp takes a personal API key, or an OAuth access token (one that names the client it was
 * issued to). A plain browser session token is refused: an MCP client never holds one legitimately.
 */
export function acceptedOnMcp(user: AuthUser): boolean {
  return user.apiKeyId !== undefined || user.clientId !== undefined;
}
