/**
 * Request → user (DESIGN.md §2, §3). Tokens are verified locally with jose; the algorithm comes
 * from the configured key, never from the token: the secret verifier accepts only HS256, the JWKS
 * verifier only asymmetric algorithms. When both are configured the token header's alg picks one,
 * and that one still enforces its own list, so `alg: none` and HS256-signed-with-the-public-key
 * tokens are refused whatever the header says.
 */
import { createHash } from "node:crypto";
import { decodeProtectedHeader, type JWTPayload } from "jose";
import { type ApiKeyVerifier, isApiKeyToken } from "./apiKeys";
import {
  findSupabaseAuthCookieNames,
  parseCookieHeader,
  readSupabaseAccessToken,
  sessionCookieName,
  supabaseAuthCookieName,
} from "./cookies";
import { assertDevSecret, DEV_TOKEN_ISSUER } from "./dev";
import { AuthConfigurationError, UnauthorizedError } from "./errors";
import { jwksUrlOf, supabaseIssuer } from "./supabaseUrl";
import { type AuthUser, isAdminEmail } from "./user";
import {
  ASYMMETRIC_ALGORITHMS,
  type JwksOptions,
  jwksVerifier,
  SECRET_ALGORITHMS,
  secretVerifier,
  toAuthError,
  type Verify,
} from "./verifiers";

export type AuthMode = "supabase" | "dev";

export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 10;
/** Far above any real Supabase token (≈1–3 kB); refuses absurd inputs before any parsing. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
const MAX_COOKIE_CANDIDATES = 4;

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AuthenticatorOptions {
  mode: AuthMode;
  /** Supabase mode: the project URL; enables JWKS verification and names the ssr cookie. */
  supabaseUrl?: string;
  /** Supabase mode: the legacy JWT secret; enables HS256 verification. */
  supabaseJwtSecret?: string;
  /** Dev mode: the secret from loadOrCreateDevSecret. */
  devSecret?: Uint8Array;
  /** Supabase users whose (confirmed) email is here are admins; dev users never are. */
  adminEmails?: readonly string[];
  /** Accept Supabase anonymous sign-ins (`is_anonymous: true`); default false (ALLOW_ANONYMOUS_USERS). */
  allowAnonymous?: boolean;
  /** The app is served over https: our session cookie is the `__Host-` one (cookies.ts). */
  secureCookies?: boolean;
  clockToleranceSeconds?: number;
  jwks?: JwksOptions;
  /** Overrides the @supabase/ssr cookie name derived from supabaseUrl (custom `cookieOptions.name`). */
  supabaseCookieName?: string;
  /**
   * Sessions ended by sign-out (lib/db/sessions.ts): a token of one is refused (401). Without it,
   * a signed-out token stays valid until it expires.
   */
  sessions?: SessionStore;
  /**
   * Personal API keys (apiKeys.ts): a bearer starting with `nbk_` is checked here and never as a
   * JWT. Without it such a bearer is refused like any malformed token.
   */
  apiKeys?: ApiKeyVerifier;
}

/** Where ended sessions are recorded (by the token's `session_id`, until the token expires). */
export interface SessionStore {
  isRevoked(sessionId: string): Promise<boolean>;
  revoke(session: { sessionId: string; userId: string; expiresAt: Date }): Promise<void>;
}

/** The headers of a Request (or NextRequest); enough to authenticate. */
export interface HasHeaders {
  readonly headers: Headers;
}

export interface Authenticator {
  readonly mode: AuthMode;
  /**
   * The user behind `Authorization: Bearer <token>`, or else behind the session cookie. A bearer
   * header, when present, is the only credential considered. Throws UnauthorizedError (→ 401) or
   * AuthProviderUnavailableError (JWKS unreachable → 502).
   */
  authenticate(request: HasHeaders): Promise<AuthUser>;
  verifyAccessToken(token: string): Promise<AuthUser>;
  /**
   * Ends the session of every valid token the request carries (its bearer, else its session
   * cookies): those tokens, and every copy of them, are refused from now on. Invalid or expired
   * tokens are ignored (nothing to end).
   */
  signOut(request: HasHeaders): Promise<void>;
}

/** What the options configure: the verifiers, and where Supabase's session cookies are found. */
interface Verifiers {
  secret?: Verify;
  jwks?: Verify;
  supabaseCookieNames?: (cookies: Map<string, string>) => string[];
}

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const verifiers = configureVerifiers(options);

  /** The token's checked claims (signature, algorithm, audience, issuer, expiry); else a 401. */
  async function verifiedClaims(token: string): Promise<JWTPayload> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
      throw new UnauthorizedError("malformed_token");
    }
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new UnauthorizedError("malformed_token");
    }
    const verify = pickVerifier(alg, verifiers, options.mode);
    try {
      return await verify(token);
    } catch (error) {
      throw toAuthError(error);
    }
  }

  async function verifyAccessToken(token: string): Promise<AuthUser> {
    const payload = await verifiedClaims(token);
    const user = userFrom(payload, options);
    if (options.sessions && (await options.sessions.isRevoked(sessionKeyOf(payload, token)))) {
      throw new UnauthorizedError("session_ended");
    }
    return user;
  }

  /** The bearer token when the request has an Authorization: Bearer header, else its cookies'. */
  function requestTokens(request: HasHeaders): string[] {
    const bearer = bearerToken(request.headers.get("authorization"));
    if (bearer !== undefined) return [bearer];
    return cookieTokens(request.headers.get("cookie"), options, verifiers);
  }

  async function signOut(request: HasHeaders): Promise<void> {
    if (!options.sessions) return;
    for (const token of requestTokens(request)) {
      const claims = await verifiedClaims(token).catch((error: unknown) => {
        if (error instanceof UnauthorizedError) return undefined; // nothing valid to end
        throw error;
      });
      if (!claims) continue;
      const { sub, exp } = claims;
      if (typeof sub !== "string" || typeof exp !== "number") continue;
      await options.sessions.revoke({
        sessionId: sessionKeyOf(claims, token),
        userId: sub.toLowerCase(),
        expiresAt: new Date(exp * 1000),
      });
    }
  }

  async function authenticate(request: HasHeaders): Promise<AuthUser> {
    const bearer = bearerToken(request.headers.get("authorization"));
    if (bearer !== undefined) {
      if (options.apiKeys && isApiKeyToken(bearer)) return options.apiKeys(bearer);
      return verifyAccessToken(bearer);
    }

    const candidates = requestTokens(request);
    if (candidates.length === 0) throw new UnauthorizedError("missing_token");
    // Several session cookies can coexist (ours and Supabase's, or two projects on one host):
    // a stale one must not hide a valid one.
    let firstRefusal: UnauthorizedError | undefined;
    for (const token of candidates) {
      try {
        return await verifyAccessToken(token);
      } catch (error) {
        if (!(error instanceof UnauthorizedError)) throw error;
        firstRefusal ??= error;
      }
    }
    throw firstRefusal!;
  }

  return { mode: options.mode, authenticate, verifyAccessToken, signOut };
}

/**
 * What sign-out records for a token: its `session_id` (every token of that session ends with it),
 * else the token's own hash — a token that names no session (minted by an admin tool, say) must
 * not outlive a sign-out that answered 204 either.
 */
function sessionKeyOf(claims: JWTPayload, token: string): string {
  const session = claims.session_id;
  if (typeof session === "string" && session.length > 0) return session;
  return `token:${createHash("sha256").update(token).digest("base64url")}`;
}

/** Checks the options (AuthConfigurationError at start-up, never per request) and builds the verifiers. */
function configureVerifiers(options: AuthenticatorOptions): Verifiers {
  const clockTolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0 || clockTolerance > 300) {
    throw new AuthConfigurationError("clockToleranceSeconds must be between 0 and 300.");
  }
  if (options.mode === "dev") {
    if (options.supabaseUrl || options.supabaseJwtSecret) {
      throw new AuthConfigurationError("Dev auth takes no Supabase settings; use mode 'supabase'.");
    }
    if (!options.devSecret) throw new AuthConfigurationError("Dev auth needs devSecret.");
    assertDevSecret(options.devSecret);
    return { secret: secretVerifier(options.devSecret, clockTolerance, DEV_TOKEN_ISSUER) };
  }
  if (options.mode !== "supabase") throw new AuthConfigurationError("Auth mode must be 'supabase' or 'dev'.");
  if (options.devSecret) throw new AuthConfigurationError("Supabase auth takes no devSecret.");
  const { supabaseUrl, supabaseJwtSecret } = options;
  if (!supabaseUrl && !supabaseJwtSecret) {
    throw new AuthConfigurationError("Supabase auth needs supabaseUrl or supabaseJwtSecret.");
  }
  // DESIGN.md §6: with a project URL, every token must have been issued by that project.
  const issuer = supabaseUrl ? supabaseIssuer(supabaseUrl) : undefined;
  const fixedName =
    options.supabaseCookieName ?? (supabaseUrl ? supabaseAuthCookieName(supabaseUrl) : undefined);
  return {
    secret: supabaseJwtSecret
      ? secretVerifier(new TextEncoder().encode(supabaseJwtSecret), clockTolerance, issuer)
      : undefined,
    jwks:
      supabaseUrl && issuer
        ? jwksVerifier(jwksUrlOf(supabaseUrl), options.jwks ?? {}, clockTolerance, issuer)
        : undefined,
    supabaseCookieNames: fixedName ? () => [fixedName] : findSupabaseAuthCookieNames,
  };
}

/** The verifier for the token's `alg`; each verifier still enforces its own algorithm list. */
function pickVerifier(alg: unknown, verifiers: Verifiers, mode: AuthMode): Verify {
  if (isOneOf(alg, SECRET_ALGORITHMS)) {
    if (verifiers.secret) return verifiers.secret;
    throw new UnauthorizedError(
      "unsupported_algorithm",
      "HS256 token but no JWT secret is configured (set SUPABASE_JWT_SECRET for legacy Supabase keys)",
    );
  }
  if (isOneOf(alg, ASYMMETRIC_ALGORITHMS)) {
    if (verifiers.jwks) return verifiers.jwks;
    throw new UnauthorizedError(
      "unsupported_algorithm",
      mode === "dev"
        ? "asymmetric token but dev auth only accepts its own HS256 tokens"
        : "asymmetric token but no JWKS is configured (set SUPABASE_URL)",
    );
  }
  throw new UnauthorizedError("unsupported_algorithm");
}

function userFrom(payload: JWTPayload, options: AuthenticatorOptions): AuthUser {
  if (typeof payload.sub !== "string" || !UUID.test(payload.sub)) {
    throw new UnauthorizedError("invalid_token", "sub is not a user UUID");
  }
  // Supabase signs anon-key and service-role tokens with the same keys: only a user's will do.
  if (payload.role !== "authenticated")
    throw new UnauthorizedError("invalid_token", "role is not authenticated");
  if (payload.is_anonymous === true && !options.allowAnonymous) {
    throw new UnauthorizedError("invalid_token", "anonymous users are not accepted (ALLOW_ANONYMOUS_USERS)");
  }
  const email = typeof payload.email === "string" && payload.email ? payload.email : undefined;
  const user: AuthUser = { id: payload.sub.toLowerCase(), isAdmin: isAdmin(payload, email, options) };
  if (email) user.email = email;
  // Supabase's OAuth server names the client a token was issued to; session tokens carry none.
  if (typeof payload.client_id === "string" && payload.client_id) user.clientId = payload.client_id;
  return user;
}

/**
 * Dev sign-in never makes an admin (anyone can sign in with any email). A Supabase user is an
 * admin by `app_metadata.role` (only the service role can set it) or by a listed email that the
 * token says is verified: `email_verified: true` as a claim of its own (a Custom Access Token
 * Hook) or in `app_metadata`. `user_metadata` is the user's own to write, so it proves nothing.
 */
function isAdmin(payload: JWTPayload, email: string | undefined, options: AuthenticatorOptions): boolean {
  if (options.mode !== "supabase") return false;
  const appMetadata =
    payload.app_metadata && typeof payload.app_metadata === "object"
      ? (payload.app_metadata as Record<string, unknown>)
      : {};
  if (appMetadata.role === "admin") return true;
  const verified = payload.email_verified === true || appMetadata.email_verified === true;
  return verified && isAdminEmail(email, options.adminEmails ?? []);
}

/** The session tokens a cookie header holds: ours first, then Supabase's; at most a few. */
function cookieTokens(
  cookieHeader: string | null,
  options: AuthenticatorOptions,
  verifiers: Verifiers,
): string[] {
  const cookies = parseCookieHeader(cookieHeader);
  const tokens: string[] = [];
  const ours = cookies.get(sessionCookieName(options.secureCookies ?? false));
  if (ours) tokens.push(ours);
  for (const name of verifiers.supabaseCookieNames?.(cookies) ?? []) {
    const token = readSupabaseAccessToken(cookies, name);
    if (token && !tokens.includes(token)) tokens.push(token);
  }
  return tokens.slice(0, MAX_COOKIE_CANDIDATES);
}

/**
 * The token of an `Authorization: Bearer …` header (scheme case-insensitive). Any header whose
 * scheme word is Bearer counts, `Bearer,x` included: it is the only credential then considered
 * (a malformed one is 401, never a fallback to the cookie), and csrf.ts exempts exactly the
 * requests for which this returns a non-empty token. Other schemes (e.g. a proxy's Basic) →
 * undefined, and the session cookie is used (with the same-origin check).
 */
export function bearerToken(header: string | null): string | undefined {
  // `header` comes from Headers.get, which has trimmed the value's leading and trailing whitespace.
  if (!/^Bearer\b/i.test(header ?? "")) return undefined;
  return /^Bearer[ \t]+(.*)/i.exec(header!)?.[1] ?? "";
}

function isOneOf<T extends string>(value: unknown, list: readonly T[]): value is T {
  return typeof value === "string" && (list as readonly string[]).includes(value);
}
