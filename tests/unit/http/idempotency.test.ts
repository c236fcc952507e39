import { describe, expect, it } from "vitest";
import { IDEMPOTENCY_LEASE_MS } from "@/lib/db/idempotency";
import { ApiError } from "@/lib/http/errors";
import {
  IDEMPOTENT_REPLAYED_HEADER,
  idempotencyKeyFrom,
  idempotencyLeaseMs,
  isReplayable,
  replayResponse,
  requestFingerprint,
  sha256Hex,
} from "@/lib/http/idempotency";

const withKey = (key: string) =>
  new Request("http://localhost/api/generate", { method: "POST", headers: { "Idempotency-Key": key } });

describe("idempotencyKeyFrom", () => {
  it("is undefined without the header and the key itself with one", () => {
    expect(idempotencyKeyFrom(new Request("http://localhost/"))).toBeUndefined();
    expect(idempotencyKeyFrom(withKey("order-42:retry ok"))).toBe("order-42:retry ok");
    expect(idempotencyKeyFrom(withKey("k".repeat(255)))).toBe("k".repeat(255));
  });

  it.each([
    ["longer than 255 characters", "k".repeat(256)],
    ["empty", ""],
    ["not ASCII", "clé"],
    ["a control character", "a\tb"],
  ])("answers 400 invalid_request to a key that is %s", (_why, key) => {
    let thrown: unknown;
    try {
      idempotencyKeyFrom(withKey(key));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect(thrown).toMatchObject({ code: "invalid_request" });
    expect((thrown as Error).message).toContain("Idempotency-Key");
  });
});

describe("requestFingerprint", () => {
  it("ignores key order at every depth", () => {
    const a = requestFingerprint({
      prompt: "a cat",
      options: { aspectRatio: "1:1", seed: 7 },
      images: ["x", "y"],
    });
    const b = requestFingerprint({
      images: ["x", "y"],
      options: { seed: 7, aspectRatio: "1:1" },
      prompt: "a cat",
    });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it("changes with any value, with array order, and with a file's content", () => {
    const base = { prompt: "a cat", images: ["x", "y"], files: [sha256Hex(new Uint8Array([1, 2, 3]))] };
    const fingerprints = new Set([
      requestFingerprint(base),
      requestFingerprint({ ...base, prompt: "a dog" }),
      requestFingerprint({ ...base, images: ["y", "x"] }),
      requestFingerprint({ ...base, files: [sha256Hex(new Uint8Array([1, 2, 4]))] }),
      requestFingerprint({ ...base, extra: 1 }),
      requestFingerprint({ ...base, prompt: undefined }),
    ]);
    expect(fingerprints.size).toBe(6);
  });

  it("treats an absent field and an undefined one alike, as JSON does", () => {
    expect(requestFingerprint({ prompt: "p", seed: undefined })).toBe(requestFingerprint({ prompt: "p" }));
  });
});

describe("isReplayable", () => {
  it("stores successes and anything that names a task", () => {
    expect(isReplayable(200, { success: true, taskId: "t" })).toBe(true);
    expect(isReplayable(202, { success: true, taskId: "t" })).toBe(true);
    expect(isReplayable(504, { success: false, error: { code: "upstream_timeout", taskId: "t" } })).toBe(
      true,
    );
    expect(isReplayable(422, { success: false, error: { code: "generation_failed", taskId: "t" } })).toBe(
      true,
    );
  });

  it("leaves retryable failures, where nothing happened, to be tried again", () => {
    expect(isReplayable(429, { success: false, error: { code: "rate_limited" } })).toBe(false);
    expect(isReplayable(402, { success: false, error: { code: "insufficient_credits" } })).toBe(false);
    expect(isReplayable(502, { success: false, error: { code: "upstream_error" } })).toBe(false);
    expect(isReplayable(500, null)).toBe(false);
  });

  it("never stores our own 500, even one naming its job: the retry answers from the job (issue 22)", () => {
    expect(isReplayable(500, { success: false, error: { code: "internal_error", taskId: "t" } })).toBe(false);
    // Its neighbours that name a task are still stored.
    expect(isReplayable(501, { success: false, error: { code: "internal_error", taskId: "t" } })).toBe(true);
    expect(isReplayable(499, { success: false, error: { code: "internal_error", taskId: "t" } })).toBe(true);
  });
});

describe("replayResponse", () => {
  it("answers the stored status and body, marked as replayed", async () => {
    const response = replayResponse({ status: 200, body: { success: true, taskId: "t", images: ["u"] } });
    expect(response.status).toBe(200);
    expect(response.headers.get(IDEMPOTENT_REPLAYED_HEADER)).toBe("true");
    expect(response.headers.get("cache-control")).toMatch(/^no-store/);
    expect(await response.json()).toEqual({ success: true, taskId: "t", images: ["u"] });
  });

  it("gives a replayed 202 its Location back", () => {
    const response = replayResponse({
      status: 202,
      body: { success: true, taskId: "t", status: "pending", statusUrl: "/api/generate/t" },
    });
    expect(response.headers.get("location")).toBe("/api/generate/t");
  });
});

describe("null and odd bodies (gap 9)", () => {
  it("replays a stored null body", async () => {
    const response = replayResponse({ status: 200, body: null });
    expect(response.status).toBe(200);
    expect(await response.json()).toBeNull();
    expect(response.headers.get("location")).toBeNull();
  });

  it("gives a Location only to a 202 whose statusUrl is a string", () => {
    expect(
      replayResponse({ status: 200, body: { statusUrl: "/api/generate/t" } }).headers.get("location"),
    ).toBeNull();
    expect(replayResponse({ status: 202, body: { statusUrl: 42 } }).headers.get("location")).toBeNull();
  });

  it("stores every 2xx whatever its body, and nothing outside 200-299 without a task", () => {
    for (const status of [200, 201, 204, 299]) expect(isReplayable(status, null)).toBe(true);
    for (const status of [199, 300, 302, 400, 404, 500, 504]) expect(isReplayable(status, null)).toBe(false);
    expect(isReplayable(504, { taskId: 42 })).toBe(false);
    expect(isReplayable(504, { error: { taskId: null } })).toBe(false);
    expect(isReplayable(504, { taskId: "t" })).toBe(true);
    expect(isReplayable(504, { error: null })).toBe(false);
  });

  it("fingerprints nested arrays of objects by content, not key order", () => {
    expect(requestFingerprint({ a: [{ x: 1, y: 2 }] })).toBe(requestFingerprint({ a: [{ y: 2, x: 1 }] }));
    expect(requestFingerprint({ a: null })).not.toBe(requestFingerprint({ a: {} }));
    expect(() => requestFingerprint(undefined)).toThrow(TypeError);
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("requestFingerprint: what it refuses (issue 17)", () => {
  it("throws a TypeError naming itself for parts JSON cannot express", () => {
    for (const parts of [undefined, () => 1, Symbol("x")]) {
      expect(() => requestFingerprint(parts)).toThrow(
        new TypeError("requestFingerprint needs JSON-serializable parts"),
      );
    }
  });
});

describe("idempotencyLeaseMs: long enough for the slowest generate request (issue 17)", () => {
  it("covers two KIE steps of every try with their backoff, the sync wait and a minute", () => {
    // 3 tries of 60 s + 3 × 10 s backoff = 210 s per step; 2 steps + 120 s wait + 60 s = 600 s.
    expect(idempotencyLeaseMs({ requestTimeoutMs: 60_000, pollBudgetMs: 120_000, maxRetries: 2 })).toBe(
      600_000,
    );
    // maxRetries defaults to KIE's 2.
    expect(idempotencyLeaseMs({ requestTimeoutMs: 60_000, pollBudgetMs: 120_000 })).toBe(600_000);
    // 5 tries: 2 × (5 × 90 s + 50 s) + 30 s + 60 s = 1090 s.
    expect(idempotencyLeaseMs({ requestTimeoutMs: 90_000, pollBudgetMs: 30_000, maxRetries: 4 })).toBe(
      1_090_000,
    );
    // No retries: 2 × (30 s + 10 s) + 200 s + 60 s = 340 s.
    expect(idempotencyLeaseMs({ requestTimeoutMs: 30_000, pollBudgetMs: 200_000, maxRetries: 0 })).toBe(
      340_000,
    );
  });

  it("never goes below IDEMPOTENCY_LEASE_MS", () => {
    expect(idempotencyLeaseMs({ requestTimeoutMs: 1_000, pollBudgetMs: 1_000, maxRetries: 0 })).toBe(
      IDEMPOTENCY_LEASE_MS,
    );
  });
});
