import { describe, expect, it, vi } from "vitest";

/**
 * Next.js can load lib/ modules more than once in one process (one copy per bundle). An error made
 * by one copy must still be recognised by the error table of another, or a 401 becomes a 500.
 */
describe("error classes recognised across module copies", () => {
  it("instanceof holds between two separately loaded copies of the same module", async () => {
    const first = await import("@/lib/auth/errors");
    vi.resetModules();
    const second = await import("@/lib/auth/errors");
    expect(second.UnauthorizedError).not.toBe(first.UnauthorizedError);

    const error = new first.UnauthorizedError("missing_token");
    expect(error).toBeInstanceOf(second.UnauthorizedError);
    expect(error).toBeInstanceOf(second.AuthenticationError);
    expect(error).not.toBeInstanceOf(second.AuthProviderUnavailableError);
    expect(new Error("plain")).not.toBeInstanceOf(second.UnauthorizedError);
  });

  it("the HTTP error table maps an error from another module copy to its public code", async () => {
    const kieCopy = await import("@/lib/kie/errors");
    const creditsCopy = await import("@/lib/credits/errors");
    vi.resetModules();
    const { classifyError } = await import("@/lib/http/errors");

    expect(classifyError(new creditsCopy.InsufficientCreditsError(0, 1))).toMatchObject({
      status: 402,
      code: "insufficient_credits",
    });
    expect(
      classifyError(new kieCopy.RateLimitError({ endpoint: "createTask", code: 429, retryAfterMs: 2500 })),
    ).toMatchObject({ status: 429, code: "rate_limited", retryAfterSeconds: 3 });
    expect(
      classifyError(new kieCopy.TaskFailedError({ endpoint: "recordInfo", taskId: "t1", failMsg: "policy" })),
    ).toMatchObject({ status: 422, code: "generation_failed", taskId: "t1" });
  });
});
