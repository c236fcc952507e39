/**
 * One error hierarchy for everything the KIE client can throw (DESIGN.md §3 maps each class to a
 * public error code). KIE reports failures both as HTTP statuses and as a `code` inside an HTTP 200
 * body (kie-api.md "Envelope"); both go through the single table below.
 *
 * No error ever holds the API key: KIE's own messages are sanitized before they are stored, and
 * low-level causes (socket errors) are replaced by sanitized copies.
 */

import { brand } from "@/lib/brand";

/** KIE endpoints, as named in logs and metrics. */
export type KieEndpoint =
  | "createTask"
  | "recordInfo"
  | "credit"
  | "downloadUrl"
  | "fileStreamUpload"
  | "fileBase64Upload"
  | "fileUrlUpload";

export type KieErrorKind =
  | "auth"
  | "rate_limit"
  | "validation"
  | "service"
  | "malformed_response"
  | "timeout"
  | "not_found"
  | "task_failed"
  | "account"
  | "network";

export interface KieErrorInit {
  endpoint: KieEndpoint;
  /** Overrides the message built from the other fields. Must not contain secrets. */
  message?: string;
  /** KIE's code: the HTTP status when that was the error, else the `code` of the body. */
  code?: number;
  httpStatus?: number;
  requestId?: string;
  retryable?: boolean;
  /** KIE's `msg`/`message`, already sanitized. */
  kieMessage?: string;
  retryAfterMs?: number;
  taskId?: string;
  cause?: unknown;
}

const MAX_KIE_MESSAGE_CHARS = 300;

/**
 * Makes text from KIE (or from a socket error) safe to store in an error, a log or a response:
 * every secret is blanked, bearer tokens are blanked even if we did not know them, control
 * characters are dropped and the length is capped.
 */
export function sanitizeKieText(text: unknown, secrets: readonly string[] = []): string | undefined {
  if (typeof text !== "string") return undefined;
  let out = text;
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join("[redacted]");
  }
  out = out
    .replace(/Bearer\s+[^\s"',;]+/gi, "Bearer [redacted]")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (out.length > MAX_KIE_MESSAGE_CHARS) out = `${out.slice(0, MAX_KIE_MESSAGE_CHARS - 1)}…`;
  return out === "" ? undefined : out;
}

export class KieError extends Error {
  readonly kind: KieErrorKind = "service";
  readonly code?: number;
  readonly httpStatus?: number;
  readonly endpoint: KieEndpoint;
  readonly requestId?: string;
  /** A retry of an idempotent call may succeed. Task creation has stricter rules (KieClient). */
  readonly retryable: boolean;
  readonly kieMessage?: string;
  /** From a `Retry-After` header, when KIE sent one. */
  readonly retryAfterMs?: number;
  readonly taskId?: string;

  constructor(init: KieErrorInit) {
    super(init.message ?? defaultMessage(init), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.httpStatus = init.httpStatus;
    this.endpoint = init.endpoint;
    this.requestId = init.requestId;
    this.retryable = init.retryable ?? false;
    this.kieMessage = init.kieMessage;
    this.retryAfterMs = init.retryAfterMs;
    this.taskId = init.taskId;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      message: this.message,
      code: this.code,
      httpStatus: this.httpStatus,
      endpoint: this.endpoint,
      requestId: this.requestId,
      retryable: this.retryable,
      kieMessage: this.kieMessage,
      retryAfterMs: this.retryAfterMs,
      taskId: this.taskId,
    };
  }
}

function defaultMessage(init: KieErrorInit): string {
  const where =
    init.httpStatus !== undefined && init.httpStatus !== 200
      ? `HTTP ${init.httpStatus}`
      : init.code !== undefined
        ? `code ${init.code}`
        : undefined;
  const summary = init.code !== undefined ? ruleForCode(init.code).summary : "request failed";
  return `KIE ${init.endpoint}: ${summary}${where ? ` (${where})` : ""}${init.kieMessage ? `: ${init.kieMessage}` : ""}`;
}

/** 401/403: the API key is missing, wrong, or not allowed from this IP. */
export class AuthError extends KieError {
  override readonly kind = "auth";
}

/** 429: KIE rejected the request (it was not queued). */
export class RateLimitError extends KieError {
  override readonly kind = "rate_limit";
  constructor(init: KieErrorInit) {
    super({ ...init, retryable: init.retryable ?? true });
  }
}

/** 400/422 and other 4xx: KIE refused the request as given. */
export class ValidationError extends KieError {
  override readonly kind = "validation";
}

/** 5xx, 455 (maintenance), 505 (feature disabled), 408 (no result upstream). */
export class ServiceError extends KieError {
  override readonly kind: KieErrorKind = "service";
}

/** KIE answered something that is not its envelope: an HTML error page, or a schema mismatch. */
export class MalformedResponseError extends ServiceError {
  override readonly kind = "malformed_response";
  constructor(init: KieErrorInit) {
    super({ ...init, retryable: init.retryable ?? true });
  }
}

export type TimeoutScope = "request" | "poll_budget";

/** One HTTP call took longer than the request timeout, or a task did not finish within the polling budget. */
export class TimeoutError extends KieError {
  override readonly kind = "timeout";
  readonly scope: TimeoutScope;
  readonly timeoutMs: number;
  constructor(init: KieErrorInit & { scope: TimeoutScope; timeoutMs: number }) {
    super({
      ...init,
      retryable: init.retryable ?? init.scope === "request",
      message:
        init.message ??
        (init.scope === "request"
          ? `KIE ${init.endpoint}: no response within ${init.timeoutMs} ms`
          : `KIE task ${init.taskId ?? "?"} did not finish within ${init.timeoutMs} ms`),
    });
    this.scope = init.scope;
    this.timeoutMs = init.timeoutMs;
  }
  override toJSON() {
    return { ...super.toJSON(), scope: this.scope, timeoutMs: this.timeoutMs };
  }
}

/** 404: unknown endpoint or task. */
export class NotFoundError extends KieError {
  override readonly kind = "not_found";
}

/** 501, or a task whose state is `fail`. `failMsg` is sanitized and may be shown to the user. */
export class TaskFailedError extends KieError {
  override readonly kind = "task_failed";
  readonly failCode?: string;
  readonly failMsg?: string;
  constructor(init: KieErrorInit & { failCode?: string; failMsg?: string }) {
    super({
      ...init,
      message:
        init.message ??
        `KIE task ${init.taskId ?? "?"} failed${init.failCode ? ` (${init.failCode})` : ""}${
          (init.failMsg ?? init.kieMessage) ? `: ${init.failMsg ?? init.kieMessage}` : ""
        }`,
    });
    this.failCode = init.failCode;
    this.failMsg = init.failMsg;
  }
  override toJSON() {
    return { ...super.toJSON(), failCode: this.failCode, failMsg: this.failMsg };
  }
}

/** 402 (KIE credits exhausted) or 433 (key usage cap): the operator's problem, not the user's. */
export class AccountError extends KieError {
  override readonly kind = "account";
}

/**
 * The connection failed. `sent` is false only when the request provably never reached KIE
 * (connection refused, DNS failure, connect timeout), which makes even task creation safe to retry;
 * true means it may have been received (e.g. a reset after sending).
 */
export class NetworkError extends KieError {
  override readonly kind = "network";
  readonly sent: boolean;
  /** Low-level code such as ECONNREFUSED or UND_ERR_SOCKET. */
  readonly networkCode?: string;
  constructor(init: KieErrorInit & { sent: boolean; networkCode?: string }) {
    super({
      ...init,
      retryable: init.retryable ?? true,
      message:
        init.message ??
        `KIE ${init.endpoint}: network error${init.networkCode ? ` (${init.networkCode})` : ""}${
          init.sent ? "" : ", request not sent"
        }`,
    });
    this.sent = init.sent;
    this.networkCode = init.networkCode;
  }
  /** Same as `!sent`: KIE cannot have acted on this request. */
  get neverReachedKie(): boolean {
    return !this.sent;
  }
  override toJSON() {
    return { ...super.toJSON(), sent: this.sent, networkCode: this.networkCode };
  }
}

interface CodeRule {
  kind: Exclude<KieErrorKind, "malformed_response" | "timeout" | "network">;
  retryable: boolean;
  summary: string;
}

/**
 * THE mapping from a KIE code to an error (kie-api.md "Envelope"). Used for the HTTP status first,
 * then for the body `code` of an HTTP 200 answer. Codes not listed fall back by class: other 4xx →
 * validation, other 5xx → retryable service error.
 */
export const KIE_CODE_TABLE: Readonly<Record<number, CodeRule>> = {
  400: { kind: "validation", retryable: false, summary: "bad request" },
  401: { kind: "auth", retryable: false, summary: "API key missing or invalid" },
  402: { kind: "account", retryable: false, summary: "the KIE account has insufficient credits" },
  403: { kind: "auth", retryable: false, summary: "API key not allowed" },
  404: { kind: "not_found", retryable: false, summary: "not found" },
  408: { kind: "service", retryable: false, summary: "KIE gave no result in time" },
  422: { kind: "validation", retryable: false, summary: "parameter validation failed" },
  429: { kind: "rate_limit", retryable: true, summary: "rate limited" },
  433: { kind: "account", retryable: false, summary: "API key usage cap reached" },
  455: { kind: "service", retryable: true, summary: "service unavailable (maintenance)" },
  500: { kind: "service", retryable: true, summary: "server error" },
  501: { kind: "task_failed", retryable: false, summary: "generation failed" },
  505: { kind: "service", retryable: false, summary: "feature disabled" },
};

export function ruleForCode(code: number): CodeRule {
  const known = KIE_CODE_TABLE[code];
  if (known) return known;
  if (code >= 400 && code < 500) return { kind: "validation", retryable: false, summary: "request rejected" };
  if (code >= 500 && code < 600) return { kind: "service", retryable: true, summary: "server error" };
  return { kind: "service", retryable: false, summary: "unexpected response code" };
}

/** Builds the error for a non-success KIE code (HTTP status or body code) through KIE_CODE_TABLE. */
export function errorForCode(
  code: number,
  init: Omit<KieErrorInit, "code" | "retryable"> & { failCode?: string; failMsg?: string },
): KieError {
  const rule = ruleForCode(code);
  const full: KieErrorInit = { ...init, code, retryable: rule.retryable };
  switch (rule.kind) {
    case "auth":
      return new AuthError(full);
    case "account":
      return new AccountError(full);
    case "not_found":
      return new NotFoundError(full);
    case "validation":
      return new ValidationError(full);
    case "rate_limit":
      return new RateLimitError(full);
    case "task_failed":
      return new TaskFailedError({ ...full, failCode: init.failCode, failMsg: init.failMsg });
    case "service":
      return new ServiceError(full);
  }
}

/**
 * True when a failed createTask may nevertheless have created a (paid) task at KIE: the request
 * was sent and then no answer came (a timeout, a connection lost after sending, or the caller
 * aborting mid-request). Such a job must not be re-created; it stays pending until a callback or
 * the reconciler settles it (DESIGN.md §5). An answer, even a 5xx or an unreadable one, is KIE
 * (or a proxy before it) saying no: the job fails and its credits return (DESIGN.md §3).
 */
export function isAmbiguousCreateFailure(error: unknown): boolean {
  if (error instanceof NetworkError) return error.sent;
  if (error instanceof TimeoutError) return true;
  return !(error instanceof KieError);
}

brand(KieError, "kie.KieError");
brand(AuthError, "kie.AuthError");
brand(RateLimitError, "kie.RateLimitError");
brand(ValidationError, "kie.ValidationError");
brand(ServiceError, "kie.ServiceError");
brand(MalformedResponseError, "kie.MalformedResponseError");
brand(TimeoutError, "kie.TimeoutError");
brand(NotFoundError, "kie.NotFoundError");
brand(TaskFailedError, "kie.TaskFailedError");
brand(AccountError, "kie.AccountError");
brand(NetworkError, "kie.NetworkError");
