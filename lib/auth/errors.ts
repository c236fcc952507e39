/**
 * Domain errors of lib/auth, each naming its public answer (`toProblem`, lib/problem.ts):
 * `unauthorized` → 401, `upstream_error` → 502, anything else an internal error. Messages are fixed strings: they never carry the
 * token, the signing secret or the token's claims, so they are safe to log and to show.
 */

import { brand } from "@/lib/brand";
import type { HasProblem, Problem } from "@/lib/problem";

/** Why a request was refused; for logs and metrics, not for the client to branch on. */
export type UnauthorizedReason =
  /** No bearer header and no session cookie. */
  | "missing_token"
  /** Not a compact JWS, or over the size limit, or an unreadable header. */
  | "malformed_token"
  /** `alg` is none, unknown, or of a family no configured verifier accepts. */
  | "unsupported_algorithm"
  /** Signature, key, audience or required-claim check failed. */
  | "invalid_token"
  | "token_expired"
  /** The token's session was ended by sign-out. */
  | "session_ended"
  /** A personal API key that its owner revoked. */
  | "key_revoked";

const MESSAGES: Record<UnauthorizedReason, string> = {
  missing_token: "Sign-in required: no access token was sent.",
  malformed_token: "The access token is malformed.",
  unsupported_algorithm: "The access token is signed with an algorithm this server does not accept.",
  invalid_token: "The access token is invalid.",
  token_expired: "The access token has expired; sign in again.",
  session_ended: "This session was signed out; sign in again.",
  key_revoked: "This API key was revoked.",
};

export abstract class AuthenticationError extends Error implements HasProblem {
  abstract readonly code: string;

  /** A misconfigured verifier is the operator's problem: a generic 500, the detail in the log. */
  toProblem(): Problem {
    return { code: "internal_error", logLevel: "error" };
  }
}

export class UnauthorizedError extends AuthenticationError {
  readonly code = "unauthorized" as const;

  constructor(
    readonly reason: UnauthorizedReason,
    /** Extra operator-facing context, e.g. a misconfiguration hint. Never token material. */
    readonly hint?: string,
  ) {
    super(MESSAGES[reason]);
    this.name = "UnauthorizedError";
  }

  /** One generic message for every reason: the reason is for the log, not for a prober. */
  override toProblem(): Problem {
    return { code: "unauthorized", logLevel: "info" };
  }
}

/**
 * The signing keys could not be fetched (Supabase JWKS down, slow, or answering garbage). Not a
 * 401: the token may be fine, and a 401 would make clients throw their session away.
 */
export class AuthProviderUnavailableError extends AuthenticationError {
  readonly code = "upstream_error" as const;

  constructor(
    /** What failed (timeout, HTTP status, network error), for the operator's log. */
    readonly detail?: string,
  ) {
    super("The sign-in provider's signing keys could not be fetched; try again shortly.");
    this.name = "AuthProviderUnavailableError";
  }

  override toProblem(): Problem {
    return { code: "upstream_error", logLevel: "error" };
  }
}

/** Options given to createAuthenticator (or a dev secret on disk) are unusable. Start-up error. */
export class AuthConfigurationError extends AuthenticationError {
  readonly code = "auth_configuration" as const;

  constructor(message: string) {
    super(message);
    this.name = "AuthConfigurationError";
  }
}

brand(AuthenticationError, "auth.AuthenticationError");
brand(UnauthorizedError, "auth.UnauthorizedError");
brand(AuthProviderUnavailableError, "auth.AuthProviderUnavailableError");
brand(AuthConfigurationError, "auth.AuthConfigurationError");
