/**
 * THE table from every error the app can raise to an HTTP answer (DESIGN.md §3): status,
 * `error.code` and the message a user sees. Operator problems (KIE's key or credits, an auth
 * provider outage) get a generic message; the detail goes to the log only.
 */

import { ZodError } from "zod";
import { AuthenticationError, AuthProviderUnavailableError, UnauthorizedError } from "@/lib/auth";
import { brand } from "@/lib/brand";
import { InsufficientCreditsError } from "@/lib/credits";
import { JobInDoubtError } from "@/lib/generation/errors";
import { KieError, RateLimitError, TaskFailedError, TimeoutError } from "@/lib/kie";
// The errors module only: the lib/security barrel would load sharp into every route.
import {
  FileTooLargeError,
  ImageTooManyPixelsError,
  InvalidDataUriError,
  ProxyUpstreamError,
  TooManyImagesError,
  UnsafeUrlError,
  UnsupportedMediaTypeError,
} from "@/lib/security/errors";
// The types module only: the storage barrel would load the S3 client into every route.
import { StoreUnavailableError } from "@/lib/storage/types";

export const PUBLIC_ERRORS = {
  invalid_request: { status: 400, message: "The request is invalid." },
  unauthorized: {
    status: 401,
    message: "Sign in to continue: the access token is missing, invalid or expired.",
  },
  insufficient_credits: { status: 402, message: "Not enough credits for this generation." },
  forbidden: { status: 403, message: "You are not allowed to do this." },
  not_found: { status: 404, message: "Not found." },
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
} as const satisfies Record<string, { status: number; message: string }>;

export type PublicErrorCode = keyof typeof PUBLIC_ERRORS;

export interface ApiErrorExtras {
  retryAfterSeconds?: number;
  taskId?: string;
  cause?: unknown;
}

/** An error raised by the HTTP layer itself, already naming its public code. */
export class ApiError extends Error {
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
}

/** When KIE rate-limits us without a Retry-After, clients are asked to wait this long. */
const DEFAULT_UPSTREAM_RETRY_AFTER_SECONDS = 10;

export interface ClassifiedError {
  code: PublicErrorCode;
  status: number;
  /** What the user sees. */
  message: string;
  retryAfterSeconds?: number;
  taskId?: string;
  /** How loudly to log it: a user's mistake is not an operator's alarm. */
  logLevel: "info" | "warn" | "error";
}

type Rule = [(error: unknown) => boolean, (error: never) => Omit<ClassifiedError, "status">];

const fromClass =
  <T>(cls: abstract new (...args: never[]) => T) =>
  (error: unknown): error is T =>
    error instanceof cls;

function zodMessage(error: ZodError): string {
  const parts = error.issues.slice(0, 5).map((issue) => {
    const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    return `${where}${issue.message}`;
  });
  return `The request is invalid: ${parts.join("; ")}.`;
}

/** Order matters: the first matching rule wins, most specific first. */
const RULES: Rule[] = [
  [
    fromClass(ApiError),
    (e: ApiError) => ({
      code: e.code,
      message: e.message,
      retryAfterSeconds: e.retryAfterSeconds,
      taskId: e.taskId,
      logLevel: PUBLIC_ERRORS[e.code].status >= 500 ? "error" : "info",
    }),
  ],
  [
    fromClass(ZodError),
    (e: ZodError) => ({ code: "invalid_request", message: zodMessage(e), logLevel: "info" }),
  ],
  [
    fromClass(UnauthorizedError),
    () => ({ code: "unauthorized", message: PUBLIC_ERRORS.unauthorized.message, logLevel: "info" }),
  ],
  [
    fromClass(AuthProviderUnavailableError),
    () => ({ code: "upstream_error", message: PUBLIC_ERRORS.upstream_error.message, logLevel: "error" }),
  ],
  [
    fromClass(AuthenticationError),
    () => ({ code: "internal_error", message: PUBLIC_ERRORS.internal_error.message, logLevel: "error" }),
  ],
  [
    fromClass(InsufficientCreditsError),
    () => ({
      code: "insufficient_credits",
      message: PUBLIC_ERRORS.insufficient_credits.message,
      logLevel: "info",
    }),
  ],
  // lib/security's messages are written for the user (limits, detected types; never a URL or address).
  [
    fromClass(FileTooLargeError),
    (e: FileTooLargeError) => ({ code: "file_too_large", message: e.message, logLevel: "info" }),
  ],
  [
    fromClass(UnsupportedMediaTypeError),
    (e: UnsupportedMediaTypeError) => ({
      code: "unsupported_media_type",
      message: e.message,
      logLevel: "info",
    }),
  ],
  [
    fromClass(ImageTooManyPixelsError),
    (e: ImageTooManyPixelsError) => ({ code: "invalid_request", message: e.message, logLevel: "info" }),
  ],
  [
    fromClass(TooManyImagesError),
    (e: TooManyImagesError) => ({ code: "invalid_request", message: e.message, logLevel: "info" }),
  ],
  [
    fromClass(InvalidDataUriError),
    (e: InvalidDataUriError) => ({ code: "invalid_request", message: e.message, logLevel: "info" }),
  ],
  // A refused proxy URL may be someone probing for SSRF, or a host missing from the allow list.
  [
    fromClass(UnsafeUrlError),
    (e: UnsafeUrlError) => ({ code: "invalid_request", message: e.message, logLevel: "warn" }),
  ],
  [
    fromClass(ProxyUpstreamError),
    (e: ProxyUpstreamError) => ({ code: "upstream_error", message: e.message, logLevel: "warn" }),
  ],
  [
    fromClass(RateLimitError),
    (e: RateLimitError) => ({
      code: "rate_limited",
      message: "The image service is busy. Try again shortly.",
      retryAfterSeconds:
        e.retryAfterMs !== undefined
          ? Math.max(1, Math.ceil(e.retryAfterMs / 1000))
          : DEFAULT_UPSTREAM_RETRY_AFTER_SECONDS,
      logLevel: "warn",
    }),
  ],
  [
    fromClass(TaskFailedError),
    (e: TaskFailedError) => ({
      code: "generation_failed",
      message: e.failMsg
        ? `The image could not be generated: ${e.failMsg}`
        : PUBLIC_ERRORS.generation_failed.message,
      taskId: e.taskId,
      logLevel: "info",
    }),
  ],
  [
    (e) => e instanceof TimeoutError && e.scope === "poll_budget",
    (e: TimeoutError) => ({
      code: "upstream_timeout",
      message: PUBLIC_ERRORS.upstream_timeout.message,
      taskId: e.taskId,
      logLevel: "warn",
    }),
  ],
  [
    (e) => e instanceof KieError && e.kind === "validation",
    (e: KieError) => ({
      code: "invalid_request",
      message: e.kieMessage
        ? `The image service refused the request: ${e.kieMessage}`
        : PUBLIC_ERRORS.invalid_request.message,
      logLevel: "warn",
    }),
  ],
  [
    fromClass(JobInDoubtError),
    (e: JobInDoubtError) => ({
      code: "upstream_error",
      message:
        "The image service did not confirm the job. It may still finish: check its status with the taskId.",
      taskId: e.taskId,
      logLevel: "error",
    }),
  ],
  // Our own image store (disk, S3) failed: the operator's problem, and usually a passing one.
  [
    fromClass(StoreUnavailableError),
    () => ({
      code: "service_unavailable",
      message: "Stored images are not available right now. Try again shortly.",
      logLevel: "error",
    }),
  ],
  // Everything else from KIE (5xx, network, malformed answers, our key or KIE credits) is the
  // operator's problem: a generic 502 for the user, the detail in the log.
  [
    fromClass(KieError),
    () => ({ code: "upstream_error", message: PUBLIC_ERRORS.upstream_error.message, logLevel: "error" }),
  ],
];

export function classifyError(error: unknown): ClassifiedError {
  for (const [matches, describe] of RULES) {
    if (matches(error)) {
      const described = describe(error as never);
      return { ...described, status: PUBLIC_ERRORS[described.code].status };
    }
  }
  return {
    code: "internal_error",
    status: 500,
    message: PUBLIC_ERRORS.internal_error.message,
    logLevel: "error",
  };
}

brand(ApiError, "http.ApiError");
