/**
 * One error hierarchy for everything the KIE client can throw; each class names its public answer
 * (`toProblem`, DESIGN.md §3). KIE reports failures both as HTTP statuses and as a `code` inside an
 * HTTP 200 body (kie-api.md "Envelope"); both go through the single table in codes.ts.
 *
 * No error ever holds the API key: KIE's own messages are sanitized before they are stored, and
 * low-level causes (socket errors) are replaced by sanitized copies.
 */

import { brand } from "@/lib/brand";
import type { HasProblem, Problem } from "@/lib/problem";
import { type KieEndpoint, type KieErrorKind, ruleForCode } from "./codes";

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

/** When KIE rate-limits us without a Retry-After, clients are asked to wait this long. */
const DEFAULT_RETRY_AFTER_SECONDS = 10;

export class KieError extends Error implements HasProblem {
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

  /**
   * Most of KIE's failures (5xx, network, malformed answers, our key or KIE's credits) are the
   * operator's problem: a generic 502 for the user, the detail in the log.
   */
  toProblem(): Problem {
    return { code: "upstream_error", logLevel: "error" };
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
  /** How long to hold off: KIE's Retry-After, else our own default (kie-api.md: it may be absent). */
  get pauseMs(): number {
    return this.retryAfterMs ?? DEFAULT_RETRY_AFTER_SECONDS * 1000;
  }
  override toProblem(): Problem {
    const retryAfterSeconds =
      this.retryAfterMs === undefined
        ? DEFAULT_RETRY_AFTER_SECONDS
        : Math.max(1, Math.ceil(this.retryAfterMs / 1000));
    return {
      code: "rate_limited",
      message: "The image service is busy. Try again shortly.",
      retryAfterSeconds,
      logLevel: "warn",
    };
  }
}

/** 400/422 and other 4xx: KIE refused the request as given. */
export class ValidationError extends KieError {
  override readonly kind = "validation";
  /** KIE's reason (sanitized) tells the user what to change; warn: our own validation let it through. */
  override toProblem(): Problem {
    return {
      code: "invalid_request",
      message: this.kieMessage ? `The image service refused the request: ${this.kieMessage}` : undefined,
      logLevel: "warn",
    };
  }
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

/** One HTTP call got no answer within the request timeout (the call may have reached KIE). */
export class TimeoutError extends KieError {
  override readonly kind = "timeout";
  readonly timeoutMs: number;
  constructor(init: KieErrorInit & { timeoutMs: number }) {
    super({
      ...init,
      retryable: init.retryable ?? true,
      message: init.message ?? `KIE ${init.endpoint}: no response within ${init.timeoutMs} ms`,
    });
    this.timeoutMs = init.timeoutMs;
  }
  override toJSON() {
    return { ...super.toJSON(), timeoutMs: this.timeoutMs };
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
  override toProblem(): Problem {
    return {
      code: "generation_failed",
      message: this.failMsg ? `The image could not be generated: ${this.failMsg}` : undefined,
      taskId: this.taskId,
      logLevel: "info",
    };
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
