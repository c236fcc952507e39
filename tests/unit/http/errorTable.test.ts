import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AuthProviderUnavailableError, UnauthorizedError } from "@/lib/auth";
import { InsufficientCreditsError } from "@/lib/credits";
import { JobInDoubtError, JobNotSucceededError } from "@/lib/generation/errors";
import type { JobView } from "@/lib/generation/view";
import { ApiError, classifyError } from "@/lib/http/errors";
import { errorResponse } from "@/lib/http/route";
import { errorForCode, MalformedResponseError, NetworkError, TimeoutError } from "@/lib/kie";
import { FileTooLargeError, ProxyUpstreamError, UnsafeUrlError } from "@/lib/security/errors";
import { StoreUnavailableError } from "@/lib/storage/types";

const job = (status: JobView["status"], error?: JobView["error"]) =>
  ({ taskId: "job-7", status, ...(error && { error }) }) as JobView;

const kie = (code: number) => errorForCode(code, { endpoint: "createTask", kieMessage: "detail from KIE" });

describe("the error table (DESIGN.md §3)", () => {
  it.each([
    ["KIE 400 (request refused)", kie(400), 400, "invalid_request"],
    ["KIE 401 (our key)", kie(401), 502, "upstream_error"],
    ["KIE 402 (KIE account out of credits)", kie(402), 502, "upstream_error"],
    ["KIE 404", kie(404), 502, "upstream_error"],
    ["KIE 408", kie(408), 502, "upstream_error"],
    ["KIE 422", kie(422), 400, "invalid_request"],
    ["KIE 429", kie(429), 429, "rate_limited"],
    ["KIE 433 (key usage cap)", kie(433), 502, "upstream_error"],
    ["KIE 455 (maintenance)", kie(455), 502, "upstream_error"],
    ["KIE 500", kie(500), 502, "upstream_error"],
    ["KIE 501 (generation failed)", kie(501), 422, "generation_failed"],
    ["KIE 505 (feature disabled)", kie(505), 502, "upstream_error"],
    ["a malformed KIE answer", new MalformedResponseError({ endpoint: "recordInfo" }), 502, "upstream_error"],
    ["a network error", new NetworkError({ endpoint: "createTask", sent: true }), 502, "upstream_error"],
    ["a KIE timeout", new TimeoutError({ endpoint: "createTask", timeoutMs: 1 }), 502, "upstream_error"],
    ["no token", new UnauthorizedError("missing_token"), 401, "unauthorized"],
    ["the sign-in provider down", new AuthProviderUnavailableError("timeout"), 502, "upstream_error"],
    ["too few credits", new InsufficientCreditsError(0, 1), 402, "insufficient_credits"],
    ["a schema violation", z.object({ a: z.string() }).safeParse({}).error, 400, "invalid_request"],
    ["a job in doubt", new JobInDoubtError("job-1"), 502, "upstream_error"],
    ["a file over the limit", new FileTooLargeError(1024), 413, "file_too_large"],
    ["a refused proxy URL", new UnsafeUrlError("scheme"), 400, "invalid_request"],
    ["an image host failing", new ProxyUpstreamError("timeout"), 502, "upstream_error"],
    ["our image store down", new StoreUnavailableError("get"), 503, "service_unavailable"],
    ["a sync job still running", new JobNotSucceededError(job("processing"), true), 504, "upstream_timeout"],
    ["a sync job timed out", new JobNotSucceededError(job("timeout"), false), 504, "upstream_timeout"],
    [
      "a sync job KIE failed",
      new JobNotSucceededError(job("failed", { code: "generation_failed", message: "nsfw" }), false),
      422,
      "generation_failed",
    ],
    [
      "a sync job the service failed",
      new JobNotSucceededError(job("failed", { code: "upstream_error", message: "x" }), false),
      502,
      "upstream_error",
    ],
    ["anything else", new Error("boom"), 500, "internal_error"],
  ])("%s → %i %s", (_name, error, status, code) => {
    expect(classifyError(error)).toMatchObject({ status, code });
  });

  it("operator problems get a generic message: KIE's detail stays in the log", () => {
    for (const code of [401, 402, 433, 500]) {
      expect(classifyError(kie(code)).message).not.toContain("detail from KIE");
    }
  });

  it("a settled job's answer names the job, and KIE's reason only when the generation itself failed", () => {
    const failed = classifyError(
      new JobNotSucceededError(job("failed", { code: "generation_failed", message: "nsfw" }), false),
    );
    expect(failed).toMatchObject({ taskId: "job-7", message: "The image could not be generated: nsfw" });
    const reasonless = new JobNotSucceededError(
      job("failed", { code: "generation_failed", message: "" }),
      false,
    );
    expect(classifyError(reasonless).message).toBe("The image could not be generated.");
    const upstream = new JobNotSucceededError(
      job("failed", { code: "upstream_error", message: "KIE 500" }),
      false,
    );
    expect(classifyError(upstream)).toMatchObject({
      taskId: "job-7",
      message: expect.not.stringContaining("KIE"),
    });
    expect(classifyError(new JobNotSucceededError(job("processing"), true)).taskId).toBe("job-7");
  });

  it("KIE's 429 without Retry-After still tells the client how long to wait", () => {
    expect(classifyError(kie(429)).retryAfterSeconds).toBeGreaterThan(0);
  });

  it("answers with the §3 error shape, Retry-After and the taskId when there is one", async () => {
    const response = errorResponse(
      new ApiError("rate_limited", "slow down", { retryAfterSeconds: 7 }),
      "req-1",
    );
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("7");
    expect(await response.json()).toEqual({
      success: false,
      error: { code: "rate_limited", message: "slow down", requestId: "req-1", retryAfterSeconds: 7 },
    });
    const timeout = errorResponse(new JobInDoubtError("job-9"), "req-2");
    expect((await timeout.json()).error.taskId).toBe("job-9");
  });
});
