/**
 * The token checks themselves, on jose: an HS256 verifier for a shared secret and a JWKS verifier
 * for asymmetric keys, each with its own algorithm list, and jose's errors → ours. The algorithm
 * comes from the configured key, never from the token (authenticator.ts picks the verifier).
 */
import {
  createRemoteJWKSet,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
} from "jose";
import { AuthenticationError, AuthProviderUnavailableError, UnauthorizedError } from "./errors";

/** Algorithms Supabase signs user tokens with: the legacy shared secret, or its asymmetric keys. */
export const SECRET_ALGORITHMS = ["HS256"] as const;
export const ASYMMETRIC_ALGORITHMS = ["ES256", "RS256", "EdDSA", "Ed25519"] as const;

export interface JwksOptions {
  /** One JWKS request; jose aborts it after this. Default (jose's) 5000. */
  timeoutMs?: number;
  /** After a fetch, how long an unknown `kid` waits before it may trigger another. Default (jose's) 30000. */
  cooldownMs?: number;
  /** Keys older than this are refetched before use. Default (jose's) 600000 (10 min). */
  cacheMaxAgeMs?: number;
}

export type Verify = (token: string) => Promise<JWTPayload>;

/** What every verifier requires beyond the signature: a user's token, of this issuer when known. */
function claimRules(
  algorithms: readonly string[],
  clockTolerance: number,
  issuer?: string,
): JWTVerifyOptions {
  return {
    algorithms: [...algorithms],
    audience: "authenticated",
    requiredClaims: ["sub", "exp"],
    clockTolerance,
    ...(issuer ? { issuer } : {}),
  };
}

export function secretVerifier(secret: Uint8Array, clockTolerance: number, issuer?: string): Verify {
  const rules = claimRules(SECRET_ALGORITHMS, clockTolerance, issuer);
  return async (token) => (await jwtVerify(token, secret, rules)).payload;
}

export function jwksVerifier(url: URL, options: JwksOptions, clockTolerance: number, issuer: string): Verify {
  const remote = createRemoteJWKSet(url, {
    // Unset: jose's own defaults, which are the ones documented above.
    timeoutDuration: options.timeoutMs,
    cooldownDuration: options.cooldownMs,
    cacheMaxAge: options.cacheMaxAgeMs,
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
      throw new AuthProviderUnavailableError(describeFetchFailure(error));
    }
  };
  const rules = claimRules(ASYMMETRIC_ALGORITHMS, clockTolerance, issuer);
  return async (token) => (await jwtVerify(token, getKey, rules)).payload;
}

export function toAuthError(error: unknown): Error {
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
export function describeFetchFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return `${error.name}: ${error.message}${cause}`;
}
