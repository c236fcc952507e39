/**
 * THE table from every error the app can raise to an HTTP answer (DESIGN.md §3): each public code's
 * status and generic message, and `classifyError`. Domain errors name their own code and message
 * (lib/problem.ts), so this file imports no domain module. Operator problems (KIE's key or credits,
 * an auth provider outage) get the generic message; the detail goes to the log only.
 */

import { ZodError } from "zod";
import { brand } from "@/lib/brand";
import { type HasProblem, type Problem, type PublicErrorCode, problemOf } from "@/lib/problem";

export type { PublicErrorCode } from "@/lib/problem";

export const PUBLIC_ERRORS = {
  invalid_request: { status: 400, message: "The request is invalid." },
  unauthorized: {
    status: 401,
    message: "Sign in to continue: the access token is missing, invalid or expired.",
  },
  insufficient_credits: { status: 402, message: "Not enough credits for this generation." },
  forbidden: { status: 403, message: "You are not allowed to do this." },
  not_found: { status: 404, message: "Not found." },
  request_timeout: {
    status: 408,
    message: "The request body stopped arriving. Nothing was charged; send it again.",
  },
  idempotency_key_in_progress: {
    status: 409,
    message: "A request with this Idempotency-Key is still being processed.",
  },
  idempotency_key_reused: {
    status: 422,
    message: "This Idempotency-Key was already used with a different request.",
  },
  file_too_large: { status: 413, message: "A file is larger than the upload limit." },
  unsupported_media_type: { status: 415, message: "Only PNG, JPEG and WebP images are accepted." },
  range_not_satisfiable: {
    status: 416,
    message: "The requested byte range is outside the image (Content-Range gives its size).",
  },
  generation_failed: { status: 422, message: "The image could not be generated." },
  rate_limited: { status: 429, message: "Too many requests. Try again shortly." },
  internal_error: { status: 500, message: "Something went wrong on our side." },
  upstream_error: {
    status: 502,
    message: "The image service is not available right now. Nothing was charged; try again later.",
  },
  service_unavailable: { status: 503, message: "The service is starting or unavailable. Try again shortly." },
  upstream_timeout: {
    status: 504,
    message: "The image is taking longer than expected. It is still being generated: check its status later.",
  },
} as const satisfies Record<PublicErrorCode, { status: number; message: string }>;

export interface ApiErrorExtras {
  retryAfterSeconds?: number;
  taskId?: string;
  cause?: unknown;
}

/** An error raised by the HTTP layer itself, already naming its public code. */
export class ApiError extends Error implements HasProblem {
  readonly retryAfterSeconds?: number;
  readonly taskId?: string;
  constructor(
    readonly code: PublicErrorCode,
    message: string = PUBLIC_ERRORS[code].message,
    extras: ApiErrorExtras = {},
  ) {
    super(message, extras.cause === undefined ? undefined : { cause: extras.cause });
    this.name = "ApiError";
    this.retryAfterSeconds = extras.retryAfterSeconds;
    this.taskId = extras.taskId;
  }

  toProblem(): Problem {
    return {
      code: this.code,
      message: this.message,
      retryAfterSeconds: this.retryAfterSeconds,
      taskId: this.taskId,
      logLevel: PUBLIC_ERRORS[this.code].status >= 500 ? "error" : "info",
    };
  }
}

export interface ClassifiedError extends Problem {
  status: number;
  /** What the user sees. */
  message: string;
}

function zodMessage(error: ZodError): string {
  const parts = error.issues.slice(0, 5).map((issue) => {
    const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    return `${where}${issue.message}`;
  });
  return `The request is invalid: ${parts.join("; ")}.`;
}

/**
 * THE mapping from an error to its answer: a schema violation is the user's mistake; a domain error
 * names its own Problem (lib/problem.ts); anything else is an internal error, whose detail stays in
 * the log.
 */
export function classifyError(error: unknown): ClassifiedError {
  const problem: Problem =
    error instanceof ZodError
      ? { code: "invalid_request", message: zodMessage(error), logLevel: "info" }
      : (problemOf(error) ?? { code: "internal_error", logLevel: "error" });
  const { status, message } = PUBLIC_ERRORS[problem.code];
  return { ...problem, status, message: problem.message ?? message };
}

brand(ApiError, "http.ApiError");
