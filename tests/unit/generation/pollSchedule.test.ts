import { describe, expect, it } from "vitest";
import { JobDurations, MIN_POLL_INTERVAL_MS, nextPollInMs } from "@/lib/generation/pollSchedule";

/**
 * A client that follows pollAfterMs against a task that ends at `endsAtMs`: the ages at which KIE
 * is read (each look reads: the lease it took last has ended by then) and when the end is seen.
 */
function follow(endsAtMs: number, typicalMs: number | undefined, firstLookAtMs = 100) {
  const reads: number[] = [];
  let age = firstLookAtMs;
  let wait = nextPollInMs(age, typicalMs); // the 202's pollAfterMs
  for (;;) {
    age += wait;
    reads.push(age);
    if (age >= endsAtMs) return { reads, seenAfterEndMs: age - endsAtMs };
    wait = nextPollInMs(age, typicalMs);
  }
}

describe("the polling schedule (no callbacks)", () => {
  it("a 10 s job of a model whose jobs take 10 s: at most 6 reads, the end seen within the shortest interval", () => {
    const { reads, seenAfterEndMs } = follow(10_000, 10_000);
    expect(reads.length).toBeLessThanOrEqual(6);
    expect(seenAfterEndMs).toBeLessThanOrEqual(MIN_POLL_INTERVAL_MS);
  });

  it("reads a young job once early, so a task that fails at once is seen within seconds", () => {
    const { reads } = follow(500, 30_000);
    expect(reads[0]).toBeLessThanOrEqual(2_500);
  });

  it("a job that outruns its model's typical time is still read often, then less and less", () => {
    expect(nextPollInMs(12_000, 10_000)).toBe(MIN_POLL_INTERVAL_MS);
    expect(nextPollInMs(25_000, 10_000)).toBeGreaterThan(MIN_POLL_INTERVAL_MS);
    expect(nextPollInMs(200_000, 10_000)).toBe(10_000);
  });

  it("until durations are known, by age alone: never under the shortest interval", () => {
    const ages = [0, 5_000, 9_999, 10_000, 29_999, 30_000, 119_999, 120_000, 3_600_000];
    const intervals = ages.map((age) => nextPollInMs(age, undefined));
    expect(intervals).toEqual([1_500, 1_500, 1_500, 2_500, 2_500, 5_000, 5_000, 10_000, 10_000]);
    expect(follow(10_000, undefined).reads.length).toBeLessThanOrEqual(8);
  });

  it("never asks for two reads within one second, whatever the age or typical duration", () => {
    for (const typical of [undefined, 1_000, 3_000, 10_000, 60_000]) {
      for (let age = 0; age < 200_000; age += 137) {
        const next = nextPollInMs(age, typical);
        // The one early look of a just-created job is the only interval allowed under the minimum.
        if (age < 1_000 && next < MIN_POLL_INTERVAL_MS) expect(age + next).toBeGreaterThanOrEqual(1_000);
        else expect(next).toBeGreaterThanOrEqual(MIN_POLL_INTERVAL_MS);
      }
    }
  });
});

describe("JobDurations", () => {
  it("knows a model's typical duration after three successes: the median of the last twenty", () => {
    const durations = new JobDurations();
    durations.record("m", 9_000);
    durations.record("m", 11_000);
    expect(durations.typical("m")).toBeUndefined();
    durations.record("m", 10_000);
    expect(durations.typical("m")).toBe(10_000);
    expect(durations.typical("other")).toBeUndefined();
    for (let i = 0; i < 20; i++) durations.record("m", 30_000);
    expect(durations.typical("m")).toBe(30_000);
  });

  it("ignores durations that cannot be real", () => {
    const durations = new JobDurations();
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) durations.record("m", bad);
    for (let i = 0; i < 3; i++) durations.record("m", 4_000);
    expect(durations.typical("m")).toBe(4_000);
  });
});
