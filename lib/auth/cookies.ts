/**
 * Session cookies: ours (`nb_session`, set by dev sign-in) and the one @supabase/ssr writes for a
 * browser signed in with Supabase (`sb-<project-ref>-auth-token`).
 *
 * @supabase/ssr 0.12 format (node_modules/@supabase/ssr/dist/module/cookies.js, utils/chunker.js):
 * the value is auth-js's JSON session (`{"access_token": …, "refresh_token": …, …}`), by default
 * prefixed `base64-` and base64url-encoded; "raw" encoding stores the JSON itself. A value whose
 * URI-encoded form exceeds 3180 chars is split into `<name>.0`, `<name>.1`, … (no gaps); an
 * unsplit `<name>` takes precedence over chunks.
 */

export const SESSION_COOKIE_NAME = "nb_session";
/**
 * Over https the cookie is `__Host-nb_session`: the browser only accepts it from this exact host
 * with `Secure` and `Path=/`, so a sibling subdomain cannot plant a session of its choosing.
 */
export const SECURE_SESSION_COOKIE_NAME = `__Host-${SESSION_COOKIE_NAME}`;

/** The session cookie's name: `__Host-` prefixed when the app is served over https. */
export function sessionCookieName(secure: boolean): string {
  return secure ? SECURE_SESSION_COOKIE_NAME : SESSION_COOKIE_NAME;
}

/** Most cookies a browser keeps per host is ~180; a session never needs more than a handful. */
const MAX_SUPABASE_CHUNKS = 32;

const TOKEN_COOKIE_VALUE = /^[A-Za-z0-9._-]+$/;

export interface SessionCookieOptions {
  /** Set `Secure` (https deployments). Browsers drop Secure cookies set over plain http. */
  secure: boolean;
  maxAgeSeconds: number;
}

/** A `Set-Cookie` value carrying the access token: HttpOnly, SameSite=Lax, Path=/ (+ Secure, __Host-). */
export function sessionCookie(token: string, options: SessionCookieOptions): string {
  // A JWT is base64url segments joined by dots; anything else could inject cookie attributes.
  if (!TOKEN_COOKIE_VALUE.test(token)) {
    throw new TypeError("sessionCookie: the token contains characters not allowed in a cookie value");
  }
  if (!Number.isInteger(options.maxAgeSeconds) || options.maxAgeSeconds <= 0) {
    throw new TypeError("sessionCookie: maxAgeSeconds must be a positive integer");
  }
  return serialize(token, options.maxAgeSeconds, options.secure);
}

/** A `Set-Cookie` value that removes the session cookie. */
export function clearSessionCookie(options: { secure?: boolean } = {}): string {
  return `${serialize("", 0, options.secure ?? false)}; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}

function serialize(value: string, maxAgeSeconds: number, secure: boolean): string {
  const parts = [
    `${sessionCookieName(secure)}=${value}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Lax",
    `Max-Age=${maxAgeSeconds}`,
  ];
  if (secure) parts.push("Secure");
  return parts.join("; ");
}

/**
 * Parses a `Cookie` request header into name → value. The first occurrence of a name wins (the
 * browser sends the most specific path first); values are URI-decoded as @supabase/ssr's `cookie`
 * dependency does, and left as-is when they are not valid URI encoding.
 */
export function parseCookieHeader(header: string | null | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim();
    if (!name || cookies.has(name)) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    cookies.set(name, decodeCookieValue(value));
  }
  return cookies;
}

function decodeCookieValue(value: string): string {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The cookie name supabase-js uses for a project URL: `sb-<first label of the host>-auth-token`
 * (supabase-js `defaultStorageKey`), e.g. `https://abcd.supabase.co` → `sb-abcd-auth-token`.
 */
export function supabaseAuthCookieName(supabaseUrl: string): string {
  const host = new URL(supabaseUrl).hostname;
  return `sb-${host.split(".")[0]}-auth-token`;
}

const SUPABASE_COOKIE_PATTERN = /^(sb-.+-auth-token)(?:\.(?:0|[1-9][0-9]*))?$/;

/**
 * Names of Supabase auth cookies present, for when the project URL (hence the exact name) is not
 * configured. Each is a base name; chunks are resolved by readSupabaseAccessToken.
 */
export function findSupabaseAuthCookieNames(cookies: Map<string, string>): string[] {
  const names = new Set<string>();
  for (const name of cookies.keys()) {
    const match = SUPABASE_COOKIE_PATTERN.exec(name);
    if (match?.[1]) names.add(match[1]);
  }
  return [...names];
}

/**
 * The access token inside @supabase/ssr's session cookie `name` (chunked or not, `base64-`
 * prefixed or raw JSON), or undefined when the cookie is absent or does not decode to a session.
 */
export function readSupabaseAccessToken(cookies: Map<string, string>, name: string): string | undefined {
  const combined = combineChunks(cookies, name);
  if (combined === undefined) return undefined;
  const json = combined.startsWith("base64-")
    ? Buffer.from(combined.slice("base64-".length), "base64url").toString("utf8")
    : combined;
  let session: unknown;
  try {
    session = JSON.parse(json);
  } catch {
    return undefined;
  }
  return accessTokenOf(session);
}

function combineChunks(cookies: Map<string, string>, name: string): string | undefined {
  const whole = cookies.get(name);
  if (whole) return whole;
  const chunks: string[] = [];
  for (let i = 0; i < MAX_SUPABASE_CHUNKS; i++) {
    const chunk = cookies.get(`${name}.${i}`);
    if (!chunk) break;
    chunks.push(chunk);
  }
  return chunks.length > 0 ? chunks.join("") : undefined;
}

function accessTokenOf(session: unknown): string | undefined {
  // auth-js stores the Session object; the retired auth-helpers stored [access_token, refresh_token, …].
  if (Array.isArray(session)) {
    return typeof session[0] === "string" && session[0] ? session[0] : undefined;
  }
  if (session && typeof session === "object" && "access_token" in session) {
    const token = session.access_token;
    return typeof token === "string" && token ? token : undefined;
  }
  return undefined;
}
