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
  TaskFailedError,
  TimeoutError,
  ValidationError,
} from "@/lib/kie/errors";
import { sanitizeKieText } from "@/lib/kie/sanitize";

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
    expect(isAmbiguousCreateFailure(new TimeoutError({ endpoint: "createTask", timeoutMs: 1 }))).toBe(true);
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

describe("sanitizeKieText: what must never leak (gap 4)", () => {
  it.each([
    ["two spaces", "auth: Bearer  sk-live-abc failed"],
    ["a tab", "auth: Bearer\tsk-live-abc failed"],
    ["a newline", "auth: Bearer\nsk-live-abc failed"],
    ["lower case", "auth: bearer sk-live-abc failed"],
  ])("blanks a bearer token after %s", (_why, text) => {
    const out = sanitizeKieText(text) ?? "";
    expect(out).not.toContain("sk-live-abc");
    expect(out).toBe("auth: Bearer [redacted] failed");
  });

  it("blanks only the token: quotes, commas and semicolons end it", () => {
    expect(sanitizeKieText(`{"h":"Bearer abc","x":1}`)).toBe(`{"h":"Bearer [redacted]","x":1}`);
    expect(sanitizeKieText("Bearer abc, then more; Bearer def;x")).toBe(
      "Bearer [redacted], then more; Bearer [redacted];x",
    );
  });

  it("blanks every occurrence of every known secret, and ignores an empty one", () => {
    expect(sanitizeKieText("k1 and k1 and k2", ["k1", "", "k2"])).toBe(
      "[redacted] and [redacted] and [redacted]",
    );
    // An empty secret (an unset key) must not redact between every character.
    expect(sanitizeKieText("plain text", [""])).toBe("plain text");
  });

  it("keeps 300 characters as they are and cuts longer text to 300 with an ellipsis", () => {
    const exactly = "a".repeat(300);
    expect(sanitizeKieText(exactly)).toBe(exactly);
    const cut = sanitizeKieText(`${"b".repeat(299)}cd`) ?? "";
    expect(cut).toBe(`${"b".repeat(299)}…`);
    expect(cut).toHaveLength(300);
  });

  it("turns runs of control characters and spaces into one space, and trims", () => {
    expect(sanitizeKieText("  a\u0001\u0002\u007fb \n\n c  ")).toBe("a b c");
  });
});

describe("retryable: unknown codes and errors built directly (gap 5)", () => {
  it.each([
    [600, false],
    [700, false],
    [399, false],
    [200, false],
    [1000, false],
    [0, false],
    [-1, false],
    [450, false],
    [599, true],
    [555, true],
  ])("code %i → retryable %s", (code, retryable) => {
    const error = errorForCode(code, { endpoint: "recordInfo" });
    expect(error.retryable).toBe(retryable);
    if (code < 400 || code >= 600) {
      expect(error).toBeInstanceOf(ServiceError);
      expect(error.message).toBe(`KIE recordInfo: unexpected response code (code ${code})`);
    }
  });

  it("a 4xx or 5xx outside the table says what kind it is", () => {
    expect(errorForCode(418, { endpoint: "credit" }).message).toBe("KIE credit: request rejected (code 418)");
    expect(errorForCode(503, { endpoint: "credit" }).message).toBe("KIE credit: server error (code 503)");
  });

  it("a 429 holds creates off for KIE's Retry-After, or 10 s when KIE sent none", () => {
    const endpoint = "createTask" as const;
    expect(new RateLimitError({ endpoint, retryAfterMs: 2500 }).pauseMs).toBe(2500);
    expect(new RateLimitError({ endpoint, retryAfterMs: 0 }).pauseMs).toBe(0);
    expect(new RateLimitError({ endpoint, httpStatus: 429 }).pauseMs).toBe(10_000);
  });

  it("defaults each class's retryable, and keeps an explicit one", () => {
    const endpoint = "recordInfo" as const;
    expect(new KieError({ endpoint }).retryable).toBe(false);
    expect(new KieError({ endpoint, retryable: true }).retryable).toBe(true);
    expect(new RateLimitError({ endpoint }).retryable).toBe(true);
    expect(new RateLimitError({ endpoint, retryable: false }).retryable).toBe(false);
    expect(new MalformedResponseError({ endpoint, retryable: false }).retryable).toBe(false);
    expect(new NetworkError({ endpoint, sent: true }).retryable).toBe(true);
    expect(new NetworkError({ endpoint, sent: false, retryable: false }).retryable).toBe(false);
    expect(new TimeoutError({ endpoint, timeoutMs: 5 }).retryable).toBe(true);
    expect(new TimeoutError({ endpoint, timeoutMs: 5, retryable: false }).retryable).toBe(false);
    expect(new TaskFailedError({ endpoint }).retryable).toBe(false);
  });

  it("errorForCode takes retryable from the table only", () => {
    const init = { endpoint: "recordInfo", retryable: true } as unknown as Parameters<typeof errorForCode>[1];
    expect(errorForCode(400, init).retryable).toBe(false);
  });
});

describe("messages and fields of errors built directly", () => {
  const endpoint = "createTask" as const;

  it("says where the failure came from: the HTTP status, else KIE's code", () => {
    expect(new KieError({ endpoint }).message).toBe("KIE createTask: request failed");
    expect(new KieError({ endpoint, httpStatus: 502 }).message).toBe(
      "KIE createTask: request failed (HTTP 502)",
    );
    expect(new KieError({ endpoint, httpStatus: 200, code: 500 }).message).toBe(
      "KIE createTask: server error (code 500)",
    );
    expect(new KieError({ endpoint, httpStatus: 200 }).message).toBe("KIE createTask: request failed");
    expect(new KieError({ endpoint, code: 401, kieMessage: "bad key" }).message).toBe(
      "KIE createTask: API key missing or invalid (code 401): bad key",
    );
    expect(new KieError({ endpoint, message: "own words", code: 401 }).message).toBe("own words");
  });

  it("keeps a cause only when one is given", () => {
    const cause = new Error("socket hang up");
    expect(new KieError({ endpoint, cause }).cause).toBe(cause);
    expect("cause" in new KieError({ endpoint })).toBe(false);
  });

  it("names the timeout and the endpoint that did not answer", () => {
    const timeout = new TimeoutError({ endpoint, timeoutMs: 1500, taskId: "t9" });
    expect(timeout.message).toBe("KIE createTask: no response within 1500 ms");
    expect(new TimeoutError({ endpoint, timeoutMs: 1, message: "m" }).message).toBe("m");
    expect(JSON.parse(JSON.stringify(timeout))).toMatchObject({
      name: "TimeoutError",
      kind: "timeout",
      timeoutMs: 1500,
      taskId: "t9",
      retryable: true,
    });
  });

  it("describes a failed task with its code and message, whichever is known", () => {
    expect(new TaskFailedError({ endpoint, taskId: "t1", failCode: "400", failMsg: "nsfw" }).message).toBe(
      "KIE task t1 failed (400): nsfw",
    );
    expect(new TaskFailedError({ endpoint, kieMessage: "from kie" }).message).toBe(
      "KIE task ? failed: from kie",
    );
    expect(new TaskFailedError({ endpoint, failMsg: "a", kieMessage: "b" }).message).toBe(
      "KIE task ? failed: a",
    );
    expect(new TaskFailedError({ endpoint }).message).toBe("KIE task ? failed");
    expect(new TaskFailedError({ endpoint, message: "own" }).message).toBe("own");
    const json = JSON.parse(JSON.stringify(new TaskFailedError({ endpoint, failCode: "c", failMsg: "m" })));
    expect(json).toMatchObject({ name: "TaskFailedError", kind: "task_failed", failCode: "c", failMsg: "m" });
  });

  it("describes a network error with its code and whether it was sent", () => {
    expect(new NetworkError({ endpoint, sent: true, networkCode: "ECONNRESET" }).message).toBe(
      "KIE createTask: network error (ECONNRESET)",
    );
    expect(new NetworkError({ endpoint, sent: false }).message).toBe(
      "KIE createTask: network error, request not sent",
    );
    expect(new NetworkError({ endpoint, sent: true, message: "own" }).message).toBe("own");
    expect(new NetworkError({ endpoint, sent: true }).neverReachedKie).toBe(false);
  });

  it("serializes every base field", () => {
    const error = new RateLimitError({
      endpoint: "recordInfo",
      code: 429,
      httpStatus: 429,
      requestId: "r",
      kieMessage: "slow down",
      retryAfterMs: 2000,
      taskId: "t",
    });
    expect(error.toJSON()).toEqual({
      name: "RateLimitError",
      kind: "rate_limit",
      message: "KIE recordInfo: rate limited (HTTP 429): slow down",
      code: 429,
      httpStatus: 429,
      endpoint: "recordInfo",
      requestId: "r",
      retryable: true,
      kieMessage: "slow down",
      retryAfterMs: 2000,
      taskId: "t",
    });
  });

  it("gives each class its kind", () => {
    // Built inside the test, so the mutation run counts this test as covering the class fields.
    const kinds: [KieError, string][] = [
      [new KieError({ endpoint }), "service"],
      [new AuthError({ endpoint }), "auth"],
      [new ValidationError({ endpoint }), "validation"],
      [new ServiceError({ endpoint }), "service"],
      [new NotFoundError({ endpoint }), "not_found"],
      [new AccountError({ endpoint }), "account"],
    ];
    for (const [error, kind] of kinds) expect(error.kind).toBe(kind);
  });

  it("keeps sibling classes apart", () => {
    const classes = [
      AuthError,
      RateLimitError,
      ValidationError,
      NotFoundError,
      AccountError,
      TaskFailedError,
    ];
    for (const A of classes) {
      for (const B of classes) {
        const error = A === TaskFailedError ? new TaskFailedError({ endpoint }) : new A({ endpoint });
        expect(error instanceof B).toBe(A === B);
      }
    }
  });
});

describe("KIE_CODE_TABLE, row by row", () => {
  it.each([
    [400, "bad request"],
    [401, "API key missing or invalid"],
    [402, "the KIE account has insufficient credits"],
    [403, "API key not allowed"],
    [404, "not found"],
    [408, "KIE gave no result in time"],
    [422, "parameter validation failed"],
    [429, "rate limited"],
    [433, "API key usage cap reached"],
    [455, "service unavailable (maintenance)"],
    [500, "server error"],
    [501, "generation failed"],
    [505, "feature disabled"],
  ])("code %i is described as %j", (code, summary) => {
    const error = errorForCode(code, { endpoint: "credit", httpStatus: 200 });
    if (code === 501) expect(error.message).toBe("KIE task ? failed");
    else expect(error.message).toBe(`KIE credit: ${summary} (code ${code})`);
    expect(new KieError({ endpoint: "credit", code }).message).toBe(`KIE credit: ${summary} (code ${code})`);
  });

  it("names each class for logs and for instanceof across module copies", () => {
    const endpoint = "credit" as const;
    for (const [error, name] of [
      [new KieError({ endpoint }), "KieError"],
      [new AuthError({ endpoint }), "AuthError"],
      [new RateLimitError({ endpoint }), "RateLimitError"],
      [new ValidationError({ endpoint }), "ValidationError"],
      [new ServiceError({ endpoint }), "ServiceError"],
      [new MalformedResponseError({ endpoint }), "MalformedResponseError"],
      [new TimeoutError({ endpoint, timeoutMs: 1 }), "TimeoutError"],
      [new NotFoundError({ endpoint }), "NotFoundError"],
      [new TaskFailedError({ endpoint }), "TaskFailedError"],
      [new AccountError({ endpoint }), "AccountError"],
      [new NetworkError({ endpoint, sent: true }), "NetworkError"],
    ] as const) {
      expect(error.name).toBe(name);
      expect(error).toBeInstanceOf(KieError);
    }
  });
});

describe("toProblem: what the user is told of each KIE failure", () => {
  const endpoint = "createTask" as const;

  it("an operator's problem (key, credits, outage, timeout, network) is a generic upstream error", () => {
    for (const error of [
      new KieError({ endpoint, kieMessage: "detail" }),
      new AuthError({ endpoint, code: 401 }),
      new AccountError({ endpoint, code: 402 }),
      new ServiceError({ endpoint, code: 500 }),
      new TimeoutError({ endpoint, timeoutMs: 1 }),
      new NetworkError({ endpoint, sent: true }),
    ]) {
      expect(error.toProblem()).toEqual({ code: "upstream_error", logLevel: "error" });
    }
  });

  it("KIE's rate limit asks the client to wait what KIE said, at least a second, 10 s when it said nothing", () => {
    const busy = {
      code: "rate_limited",
      message: "The image service is busy. Try again shortly.",
      logLevel: "warn",
    };
    expect(new RateLimitError({ endpoint }).toProblem()).toEqual({ ...busy, retryAfterSeconds: 10 });
    expect(new RateLimitError({ endpoint, retryAfterMs: 2_500 }).toProblem()).toEqual({
      ...busy,
      retryAfterSeconds: 3,
    });
    expect(new RateLimitError({ endpoint, retryAfterMs: 100 }).toProblem().retryAfterSeconds).toBe(1);
  });

  it("a refused request says KIE's reason when there is one", () => {
    expect(new ValidationError({ endpoint, kieMessage: "image too small" }).toProblem()).toEqual({
      code: "invalid_request",
      message: "The image service refused the request: image too small",
      logLevel: "warn",
    });
    expect(new ValidationError({ endpoint }).toProblem()).toEqual({
      code: "invalid_request",
      message: undefined,
      logLevel: "warn",
    });
  });

  it("a failed generation names the task, and the reason when there is one", () => {
    expect(new TaskFailedError({ endpoint, taskId: "t1", failMsg: "nsfw" }).toProblem()).toEqual({
      code: "generation_failed",
      message: "The image could not be generated: nsfw",
      taskId: "t1",
      logLevel: "info",
    });
    expect(new TaskFailedError({ endpoint, taskId: "t2" }).toProblem()).toEqual({
      code: "generation_failed",
      message: undefined,
      taskId: "t2",
      logLevel: "info",
    });
  });
});
