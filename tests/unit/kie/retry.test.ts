import { describe, expect, it } from "vitest";
import { backoffCap, fullJitterDelay } from "@/lib/backoff";
import { parseRetryAfter, sleep } from "@/lib/kie/retry";

describe("fullJitterDelay", () => {
  const options = { baseMs: 100, maxMs: 1000 };

  it("draws from [0, min(maxMs, baseMs * 2^attempt)]", () => {
    expect(fullJitterDelay(0, options, () => 0)).toBe(0);
    expect(fullJitterDelay(0, options, () => 0.999999)).toBe(99);
    expect(fullJitterDelay(2, options, () => 0.5)).toBe(200);
    expect(fullJitterDelay(3, options, () => 1)).toBe(800);
  });

  it("never exceeds maxMs, even for huge attempt numbers", () => {
    for (const attempt of [4, 10, 60, 2000]) {
      expect(fullJitterDelay(attempt, options, () => 1)).toBe(1000);
      expect(backoffCap(attempt, options)).toBe(1000);
    }
  });

  it("clamps a misbehaving random source into the window", () => {
    expect(fullJitterDelay(1, options, () => 7)).toBe(200);
    expect(fullJitterDelay(1, options, () => -3)).toBe(0);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-01-01T12:00:00.000Z");

  it("reads delta-seconds", () => {
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("1.5", now)).toBe(1500);
  });

  it("reads an HTTP-date relative to now, never negative", () => {
    expect(parseRetryAfter("Wed, 01 Jan 2025 12:00:07 GMT", now)).toBe(7000);
    expect(parseRetryAfter("Wed, 01 Jan 2025 11:59:00 GMT", now)).toBe(0);
  });

  it("returns undefined for absent or garbage values", () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("", now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("-5", now)).toBeUndefined();
  });
});

describe("sleep", () => {
  it("resolves after the delay", async () => {
    await expect(sleep(1)).resolves.toBeUndefined();
  });

  it("rejects at once when the signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await expect(sleep(60_000, controller.signal)).rejects.toThrow("stop");
  });

  it("rejects with an AbortError when aborted while sleeping", async () => {
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });
});
