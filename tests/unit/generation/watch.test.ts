/**
 * JobWatches (lib/generation/watch.ts): the one schedule of looks that every waiter of a job in this
 * process shares. Issue 22 item 6: a look that fails (a database blip) must not end every waiter's
 * wait, and a look that is busy (copying a result, a slow KIE read) must not hold the answer once
 * another path has settled the job. A fake schedule and real JobEvents, on vi's fake clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Generation } from "@/lib/db/schema";
import { JobEvents } from "@/lib/generation/events";
import { JobWatches, type WatchSchedule } from "@/lib/generation/watch";
import type { Logger } from "@/lib/observability/logger";

const logger = { warn: vi.fn(), info: vi.fn(), error: vi.fn(), debug: vi.fn() } as unknown as Logger;

function job(status: Generation["status"]): Generation {
  return { id: "job-1", status } as Generation;
}

/** A schedule whose looks and re-reads are scripted by the test; each look is 1 s apart. */
function scriptedSchedule(script: {
  look: (attempt: number, signal: AbortSignal) => Promise<Generation>;
  reread: () => Promise<Generation>;
}): WatchSchedule & { looks: number } {
  const schedule = {
    name: "test",
    looks: 0,
    look: (_job: Generation, signal: AbortSignal) => script.look(++schedule.looks, signal),
    reread: () => script.reread(),
    nextLookIn: () => 1_000,
  };
  return schedule;
}

/** Tracks whether a promise has settled yet, without awaiting it. */
function track<T>(promise: Promise<T>): { done: boolean; value?: T } {
  const state: { done: boolean; value?: T } = { done: false };
  promise.then((value) => {
    state.done = true;
    state.value = value;
  });
  return state;
}

describe("JobWatches", () => {
  let events: JobEvents;
  beforeEach(() => {
    vi.useFakeTimers();
    events = new JobEvents();
  });
  afterEach(async () => {
    vi.useRealTimers();
    await events.close();
  });

  it("a look that fails (a database blip) does not end the wait: the next look on schedule finds the job settled", async () => {
    let row = job("processing");
    const schedule = scriptedSchedule({
      look: async (attempt) => {
        if (attempt === 1) throw new Error("connection terminated unexpectedly");
        return row;
      },
      reread: async () => row,
    });
    const watches = new JobWatches(events, logger);
    const waiter = track(
      watches.follow(job("processing"), schedule, { deadline: Date.now() + 20_000, now: Date.now }),
    );

    await vi.advanceTimersByTimeAsync(1_000); // the first look (attempt 1) fails
    expect(schedule.looks).toBe(1);
    expect(waiter.done).toBe(false); // still waiting, not answered with the open row

    row = job("succeeded");
    await vi.advanceTimersByTimeAsync(1_000); // the next look, on schedule
    expect(waiter.done).toBe(true);
    expect(waiter.value?.status).toBe("succeeded");
  });

  it("a failing look ends no waiter's wait early: every waiter of the job stays until its own deadline", async () => {
    const schedule = scriptedSchedule({
      look: async () => {
        throw new Error("database unavailable");
      },
      reread: async () => job("processing"),
    });
    const watches = new JobWatches(events, logger);
    const early = track(
      watches.follow(job("processing"), schedule, { deadline: Date.now() + 5_000, now: Date.now }),
    );
    const late = track(
      watches.follow(job("processing"), schedule, { deadline: Date.now() + 9_000, now: Date.now }),
    );

    await vi.advanceTimersByTimeAsync(4_900);
    expect(schedule.looks).toBeGreaterThanOrEqual(3); // the schedule kept going
    expect([early.done, late.done]).toEqual([false, false]);
    await vi.advanceTimersByTimeAsync(200);
    expect([early.done, late.done]).toEqual([true, false]);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(late.done).toBe(true);
    expect(late.value?.status).toBe("processing");
  });

  it("a failing first re-read does not end the wait either", async () => {
    let rereads = 0;
    const schedule = scriptedSchedule({
      look: async () => job("succeeded"),
      reread: async () => {
        if (++rereads === 1) throw new Error("database unavailable");
        return job("processing");
      },
    });
    const watches = new JobWatches(events, logger);
    const waiter = track(
      watches.follow(job("processing"), schedule, { deadline: Date.now() + 20_000, now: Date.now }),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(waiter.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(waiter.value?.status).toBe("succeeded");
  });

  it("a busy look (a copy, a slow read) does not hold the answer once another path settled the job", async () => {
    let row = job("processing");
    let lookSignal: AbortSignal | undefined;
    const schedule = scriptedSchedule({
      // A look that never lands by itself (it ignores its signal, as a copy in progress would).
      look: (_attempt, signal) => {
        lookSignal = signal;
        return new Promise<Generation>(() => {});
      },
      reread: async () => row,
    });
    const watches = new JobWatches(events, logger);
    const waiter = track(
      watches.follow(job("processing"), schedule, { deadline: Date.now() + 20_000, now: Date.now }),
    );
    await vi.advanceTimersByTimeAsync(1_000);
    expect(schedule.looks).toBe(1); // the look is in progress

    row = job("succeeded"); // another path (a callback, the reconciler) settles the job
    events.settled("job-1");
    await vi.advanceTimersByTimeAsync(0);
    expect(waiter.done).toBe(true);
    expect(waiter.value?.status).toBe("succeeded");
    expect(lookSignal?.aborted).toBe(true); // the busy look was told nobody needs it any more
  });

  it("the last waiter to leave stops the watch: a busy look is abandoned and no further look is made", async () => {
    const schedule = scriptedSchedule({
      look: () => new Promise<Generation>(() => {}),
      reread: async () => job("processing"),
    });
    const watches = new JobWatches(events, logger);
    const client = new AbortController();
    const waiter = watches.follow(job("processing"), schedule, {
      deadline: Date.now() + 20_000,
      now: Date.now,
      signal: client.signal,
    });
    await vi.advanceTimersByTimeAsync(1_000);
    client.abort(new Error("client went away"));
    await expect(waiter).rejects.toThrow("client went away");
    expect(watches.waiters).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(schedule.looks).toBe(1);
  });
});
