import { describe, expect, it } from "vitest";
import {
  AccountError,
  AuthError,
  errorForCode,
  isAmbiguousCreateFailure,
  KieError,
  MalformedResponseError,
  NetworkError,
  NotFoundError,
  RateLimitError,
  ServiceError,
  sanitizeKieText,
  TaskFailedError,
  TimeoutError,
  ValidationError,
} from "@/lib/kie/errors";

describe("errorForCode", () => {
  const cases: [number, new (...args: never[]) => KieError, boolean][] = [
    [400, ValidationError, false],
    [401, AuthError, false],
    [402, AccountError, false],
    [403, AuthError, false],
    [404, NotFoundError, false],
    [408, ServiceError, false],
    [422, ValidationError, false],
    [429, RateLimitError, true],
    [433, AccountError, false],
    [455, ServiceError, true],
    [500, ServiceError, true],
    [501, TaskFailedError, false],
    [505, ServiceError, false],
    [413, ValidationError, false],
    [418, ValidationError, false],
    [502, ServiceError, true],
    [503, ServiceError, true],
    [599, ServiceError, true],
  ];
  it.each(cases)("code %i → %o (retryable %s)", (code, cls, retryable) => {
    const error = errorForCode(code, { endpoint: "createTask", requestId: "r-1" });
    expect(error).toBeInstanceOf(cls);
    expect(error).toBeInstanceOf(KieError);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.requestId).toBe("r-1");
    expect(error.name).toBe(cls.name);
  });

  it("treats a code outside 4xx/5xx as an unexpected, non-retryable service error", () => {
    const error = errorForCode(302, { endpoint: "credit" });
    expect(error).toBeInstanceOf(ServiceError);
    expect(error.retryable).toBe(false);
  });

  it("names the endpoint, the code and KIE's message", () => {
    const error = errorForCode(422, {
      endpoint: "createTask",
      httpStatus: 200,
      kieMessage: "prompt is required",
    });
    expect(error.message).toBe("KIE createTask: parameter validation failed (code 422): prompt is required");
    const http = errorForCode(429, { endpoint: "recordInfo", httpStatus: 429 });
    expect(http.message).toBe("KIE recordInfo: rate limited (HTTP 429)");
  });

  it("carries failCode/failMsg on a 501", () => {
    const error = errorForCode(501, {
      endpoint: "recordInfo",
      taskId: "t1",
      failCode: "400",
      failMsg: "nsfw",
    });
    expect(error).toMatchObject({ failCode: "400", failMsg: "nsfw", taskId: "t1" });
  });

  it("MalformedResponseError is a retryable ServiceError", () => {
    const error = new MalformedResponseError({ endpoint: "recordInfo", message: "x" });
    expect(error).toBeInstanceOf(ServiceError);
    expect(error.retryable).toBe(true);
    expect(error.kind).toBe("malformed_response");
  });
});

describe("sanitizeKieText", () => {
  it("blanks known secrets and any bearer token", () => {
    expect(sanitizeKieText("bad key sk-live-123 given", ["sk-live-123"])).toBe("bad key [redacted] given");
    expect(sanitizeKieText("header was Bearer abc.def", [])).toBe("header was Bearer [redacted]");
  });

  it("drops control characters and caps length", () => {
    expect(sanitizeKieText("a\u0000b\nc\td")).toBe("a b c d");
    const long = sanitizeKieText("x".repeat(5000)) ?? "";
    expect(long.length).toBeLessThanOrEqual(300);
  });

  it("returns undefined for non-strings and blank text", () => {
    expect(sanitizeKieText(undefined)).toBeUndefined();
    expect(sanitizeKieText(42)).toBeUndefined();
    expect(sanitizeKieText("  \n ")).toBeUndefined();
  });
});

describe("isAmbiguousCreateFailure", () => {
  it("is true only when KIE may have created the task", () => {
    expect(isAmbiguousCreateFailure(new NetworkError({ endpoint: "createTask", sent: true }))).toBe(true);
    expect(isAmbiguousCreateFailure(new NetworkError({ endpoint: "createTask", sent: false }))).toBe(false);
    expect(
      isAmbiguousCreateFailure(new TimeoutError({ endpoint: "createTask", scope: "request", timeoutMs: 1 })),
    ).toBe(true);
    expect(isAmbiguousCreateFailure(new DOMException("aborted", "AbortError"))).toBe(true);
    // An answer is a refusal, even a 5xx or an unreadable body (DESIGN.md §3: 502, not charged).
    expect(isAmbiguousCreateFailure(errorForCode(500, { endpoint: "createTask" }))).toBe(false);
    expect(isAmbiguousCreateFailure(new MalformedResponseError({ endpoint: "createTask" }))).toBe(false);
    expect(isAmbiguousCreateFailure(errorForCode(455, { endpoint: "createTask" }))).toBe(false);
    expect(isAmbiguousCreateFailure(errorForCode(429, { endpoint: "createTask" }))).toBe(false);
    expect(isAmbiguousCreateFailure(errorForCode(422, { endpoint: "createTask" }))).toBe(false);
    expect(isAmbiguousCreateFailure(errorForCode(402, { endpoint: "createTask" }))).toBe(false);
  });
});

describe("toJSON", () => {
  it("serializes the useful fields, including subclass ones", () => {
    const error = new NetworkError({
      endpoint: "createTask",
      sent: false,
      networkCode: "ECONNREFUSED",
      requestId: "r",
    });
    const json = JSON.parse(JSON.stringify(error));
    expect(json).toMatchObject({
      name: "NetworkError",
      kind: "network",
      endpoint: "createTask",
      sent: false,
      networkCode: "ECONNREFUSED",
      requestId: "r",
      retryable: true,
    });
    expect(error.neverReachedKie).toBe(true);
  });
});
