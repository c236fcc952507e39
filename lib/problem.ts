/**
 * How an error says what the user should be told, without knowing about HTTP: each domain error
 * class (credits, auth, security, storage, generation, a provider's) implements `toProblem()`,
 * naming one of the public error codes of DESIGN.md §3. lib/http/errors.ts turns a Problem into a
 * status and the §3 body, so the HTTP error table imports no domain module.
 *
 * A leaf: it imports nothing. Recognised by shape, not `instanceof`, so an error made by another
 * bundle's copy of a module (lib/brand.ts) is still understood.
 */

/** The public error codes (DESIGN.md §3); lib/http/errors.ts gives each its status and message. */
export const PUBLIC_ERROR_CODES = [
  "invalid_request",
  "unauthorized",
  "insufficient_credits",
  "forbidden",
  "not_found",
  "request_timeout",
  "idempotency_key_in_progress",
  "idempotency_key_reused",
  "file_too_large",
  "unsupported_media_type",
  "range_not_satisfiable",
  "generation_failed",
  "rate_limited",
  "internal_error",
  "upstream_error",
  "service_unavailable",
  "upstream_timeout",
] as const;

export type PublicErrorCode = (typeof PUBLIC_ERROR_CODES)[number];

export interface Problem {
  code: PublicErrorCode;
  /**
   * What the user sees. Absent: the code's generic message (always so for the operator's problems,
   * such as our KIE key or an outage, whose detail belongs in the log only).
   */
  message?: string;
  /** The job the answer is about, so the client can follow it. */
  taskId?: string;
  retryAfterSeconds?: number;
  /** How loudly to log it: a user's mistake is not an operator's alarm. */
  logLevel: "info" | "warn" | "error";
}

/** An error that knows its public answer. */
export interface HasProblem {
  toProblem(): Problem;
}

/** The error's Problem, or undefined for an error that names none (an internal error). */
export function problemOf(error: unknown): Problem | undefined {
  const candidate = error as Partial<HasProblem> | null;
  if (typeof candidate !== "object" || candidate === null) return undefined;
  return typeof candidate.toProblem === "function" ? candidate.toProblem() : undefined;
}
