/**
 * Request → user (DESIGN.md §2, §3). Tokens are verified locally with jose; the algorithm comes
 * from the configured key, never from the token: the secret verifier accepts only HS256, the JWKS
 * verifier only asymmetric algorithms. When both are configured the token header's alg picks one,
 * and that one still enforces its own list, so `alg: none` and HS256-signed-with-the-public-key
 * tokens are refused whatever the header says.
 */
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import {
  findSupabaseAuthCookieNames,
  parseCookieHeader,
  readSupabaseAccessToken,
  sessionCookieName,
  supabaseAuthCookieName,
} from "./cookies";
import { assertDevSecret, DEV_TOKEN_ISSUER } from "./dev";
import {
  AuthConfigurationError,
  AuthenticationError,
  AuthProviderUnavailableError,
  UnauthorizedError,
} from "./errors";
import { type AuthUser, isAdminEmail } from "./user";

export type AuthMode = "supabase" | "dev";

/** Algorithms Supabase signs user tokens with: the legacy shared secret, or its asymmetric keys. */
export const SECRET_ALGORITHMS = ["HS256"] as const;
export const ASYMMETRIC_ALGORITHMS = ["ES256", "RS256", "EdDSA", "Ed25519"] as const;

export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 10;
/** Far above any real Supabase token (≈1–3 kB); refuses absurd inputs before any parsing. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
const MAX_COOKIE_CANDIDATES = 4;

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface JwksOptions {
  /** One JWKS request; jose aborts it after this. Default 5000. */
  timeoutMs?: number;
  /** After a fetch, how long an unknown `kid` waits before it may trigger another. Default 30000. */
  cooldownMs?: number;
  /** Keys older than this are refetched before use. Default 600000 (10 min). */
  cacheMaxAgeMs?: number;
}

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
}

type Verify = (token: string) => Promise<JWTPayload>;

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const adminEmails = options.adminEmails ?? [];
  const clockTolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0 || clockTolerance > 300) {
    throw new AuthConfigurationError("clockToleranceSeconds must be between 0 and 300.");
  }

  let verifySecret: Verify | undefined;
  let verifyJwks: Verify | undefined;
  let supabaseCookieNames: ((cookies: Map<string, string>) => string[]) | undefined;

  if (options.mode === "dev") {
    if (options.supabaseUrl || options.supabaseJwtSecret) {
      throw new AuthConfigurationError("Dev auth takes no Supabase settings; use mode 'supabase'.");
    }
    if (!options.devSecret) throw new AuthConfigurationError("Dev auth needs devSecret.");
    assertDevSecret(options.devSecret);
    verifySecret = secretVerifier(options.devSecret, clockTolerance, DEV_TOKEN_ISSUER);
  } else if (options.mode === "supabase") {
    if (options.devSecret) throw new AuthConfigurationError("Supabase auth takes no devSecret.");
    if (!options.supabaseUrl && !options.supabaseJwtSecret) {
      throw new AuthConfigurationError("Supabase auth needs supabaseUrl or supabaseJwtSecret.");
    }
    // DESIGN.md §6: with a project URL, every token must have been issued by that project.
    const issuer = options.supabaseUrl ? supabaseIssuer(options.supabaseUrl) : undefined;
    if (options.supabaseJwtSecret) {
      verifySecret = secretVerifier(
        new TextEncoder().encode(options.supabaseJwtSecret),
        clockTolerance,
        issuer,
      );
    }
    if (options.supabaseUrl && issuer) {
      verifyJwks = jwksVerifier(jwksUrlOf(options.supabaseUrl), options.jwks ?? {}, clockTolerance, issuer);
    }
    const fixedName =
      options.supabaseCookieName ??
      (options.supabaseUrl ? supabaseAuthCookieName(options.supabaseUrl) : undefined);
    supabaseCookieNames = fixedName ? () => [fixedName] : findSupabaseAuthCookieNames;
  } else {
    throw new AuthConfigurationError("Auth mode must be 'supabase' or 'dev'.");
  }

  async function verifyAccessToken(token: string): Promise<AuthUser> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
      throw new UnauthorizedError("malformed_token");
    }
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new UnauthorizedError("malformed_token");
    }
    const verify = pickVerifier(alg);
    let payload: JWTPayload;
    try {
      payload = await verify(token);
    } catch (error) {
      throw toAuthError(error);
    }
    return userFrom(payload);
  }

  function pickVerifier(alg: unknown): Verify {
    if (isOneOf(alg, SECRET_ALGORITHMS)) {
      if (verifySecret) return verifySecret;
      throw new UnauthorizedError(
        "unsupported_algorithm",
        "HS256 token but no JWT secret is configured (set SUPABASE_JWT_SECRET for legacy Supabase keys)",
      );
    }
    if (isOneOf(alg, ASYMMETRIC_ALGORITHMS)) {
      if (verifyJwks) return verifyJwks;
      throw new UnauthorizedError(
        "unsupported_algorithm",
        options.mode === "dev"
          ? "asymmetric token but dev auth only accepts its own HS256 tokens"
          : "asymmetric token but no JWKS is configured (set SUPABASE_URL)",
      );
    }
    throw new UnauthorizedError("unsupported_algorithm");
  }

  function userFrom(payload: JWTPayload): AuthUser {
    if (typeof payload.sub !== "string" || !UUID.test(payload.sub)) {
      throw new UnauthorizedError("invalid_token", "sub is not a user UUID");
    }
    // Supabase signs anon-key and service-role tokens with the same keys: only a user's will do.
    if (payload.role !== "authenticated")
      throw new UnauthorizedError("invalid_token", "role is not authenticated");
    if (payload.is_anonymous === true && !options.allowAnonymous) {
      throw new UnauthorizedError(
        "invalid_token",
        "anonymous users are not accepted (ALLOW_ANONYMOUS_USERS)",
      );
    }
    const email = typeof payload.email === "string" && payload.email ? payload.email : undefined;
    const user: AuthUser = { id: payload.sub.toLowerCase(), isAdmin: isAdmin(payload, email) };
    if (email) user.email = email;
    return user;
  }

  /**
   * Dev sign-in never makes an admin (anyone can sign in with any email). A Supabase user is an
   * admin by `app_metadata.role` (only the service role can set it) or by a listed email, which
   * Supabase must have confirmed (README).
   */
  function isAdmin(payload: JWTPayload, email: string | undefined): boolean {
    if (options.mode !== "supabase") return false;
    const appMetadata = payload.app_metadata;
    const role =
      appMetadata && typeof appMetadata === "object"
        ? (appMetadata as Record<string, unknown>).role
        : undefined;
    return role === "admin" || isAdminEmail(email, adminEmails);
  }

  function cookieTokens(cookieHeader: string | null): string[] {
    const cookies = parseCookieHeader(cookieHeader);
    const tokens: string[] = [];
    const ours = cookies.get(sessionCookieName(options.secureCookies ?? false));
    if (ours) tokens.push(ours);
    if (supabaseCookieNames) {
      for (const name of supabaseCookieNames(cookies)) {
        const token = readSupabaseAccessToken(cookies, name);
        if (token && !tokens.includes(token)) tokens.push(token);
      }
    }
    return tokens.slice(0, MAX_COOKIE_CANDIDATES);
  }

  async function authenticate(request: HasHeaders): Promise<AuthUser> {
    const bearer = bearerToken(request.headers.get("authorization"));
    if (bearer !== undefined) return verifyAccessToken(bearer);

    const candidates = cookieTokens(request.headers.get("cookie"));
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

  return { mode: options.mode, authenticate, verifyAccessToken };
}

/** `Bearer <token>` (scheme case-insensitive) → token; other schemes (e.g. a proxy's Basic) → undefined. */
function bearerToken(header: string | null): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer(?:[ \t]+(.*))?$/i.exec(header.trim());
  if (!match) return undefined;
  return (match[1] ?? "").trim();
}

function secretVerifier(secret: Uint8Array, clockTolerance: number, issuer?: string): Verify {
  return async (token) => {
    const { payload } = await jwtVerify(token, secret, {
      algorithms: [...SECRET_ALGORITHMS],
      audience: "authenticated",
      requiredClaims: ["sub", "exp"],
      clockTolerance,
      ...(issuer ? { issuer } : {}),
    });
    return payload;
  };
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * The project URL, checked: https, or plain http only on this machine (the signing keys must not
 * travel over a network unencrypted). No trailing slash.
 */
export function checkedSupabaseUrl(supabaseUrl: string): string {
  let base: URL;
  try {
    base = new URL(supabaseUrl);
  } catch {
    throw new AuthConfigurationError("supabaseUrl is not a URL.");
  }
  const local = base.protocol === "http:" && LOOPBACK_HOSTS.has(base.hostname);
  if (base.protocol !== "https:" && !local) {
    throw new AuthConfigurationError("supabaseUrl must be https (plain http only for localhost).");
  }
  return base.href.replace(/\/+$/, "");
}

/** The `iss` of the project's access tokens. */
export function supabaseIssuer(supabaseUrl: string): string {
  return `${checkedSupabaseUrl(supabaseUrl)}/auth/v1`;
}

function jwksUrlOf(supabaseUrl: string): URL {
  return new URL(`${checkedSupabaseUrl(supabaseUrl)}/auth/v1/.well-known/jwks.json`);
}

function jwksVerifier(url: URL, options: JwksOptions, clockTolerance: number, issuer: string): Verify {
  const remote = createRemoteJWKSet(url, {
    timeoutDuration: options.timeoutMs ?? 5_000,
    cooldownDuration: options.cooldownMs ?? 30_000,
    cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
  });
  // Tells "the token names no key we know" (the token's fault → 401) from "we could not get the
  // keys" (Supabase's or the network's fault → not a 401).
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (
        error instanceof errors.JWKSNoMatchingKey ||
        error instanceof errors.JWKSMultipleMatchingKeys ||
        error instanceof errors.JOSENotSupported
      ) {
        throw error;
      }
      throw new AuthProviderUnavailableError(describe(error));
    }
  };
  return async (token) => {
    const { payload } = await jwtVerify(token, getKey, {
      algorithms: [...ASYMMETRIC_ALGORITHMS],
      audience: "authenticated",
      requiredClaims: ["sub", "exp"],
      clockTolerance,
      issuer,
    });
    return payload;
  };
}

function toAuthError(error: unknown): Error {
  if (error instanceof AuthenticationError) return error;
  if (error instanceof errors.JWTExpired) return new UnauthorizedError("token_expired");
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new UnauthorizedError("unsupported_algorithm");
  }
  if (error instanceof errors.JWSInvalid) return new UnauthorizedError("malformed_token");
  if (error instanceof errors.JWKSNoMatchingKey) {
    return new UnauthorizedError("invalid_token", "no key in the JWKS matches the token's kid/alg");
  }
  if (error instanceof errors.JOSEError) return new UnauthorizedError("invalid_token", error.code);
  // Not a verdict on the token (a bug, or the runtime failing): let it surface as a 500.
  return error instanceof Error ? error : new Error(String(error));
}

/** Class and message of a JWKS fetch failure, for the operator's log. jose/undici messages carry no secrets. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return `${error.name}: ${error.message}${cause}`;
}

function isOneOf<T extends string>(value: unknown, list: readonly T[]): value is T {
  return typeof value === "string" && (list as readonly string[]).includes(value);
}
