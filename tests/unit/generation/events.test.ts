/**
 * JobEvents (lib/generation/events.ts): a settlement wakes every waiter of that job and no other;
 * an aborted wait rejects with the signal's reason (issue 10, item 8: it used to resolve, and the
 * sync request then read KIE once more for a client that had left).
 */
import { describe, expect, it } from "vitest";
import { JobEvents } from "@/lib/generation/events";

describe("JobEvents", () => {
  it("an aborted wait rejects with the signal's reason", async () => {
    const events = new JobEvents();
    const controller = new AbortController();
    const waiting = events.waitForSettled("job-1", 5_000, controller.signal);
    setTimeout(() => controller.abort(new Error("client left")), 10);
    await expect(waiting).rejects.toThrow("client left");
    await events.close();
  });

  it("a wait on an already aborted signal rejects at once", async () => {
    const events = new JobEvents();
    await expect(events.waitForSettled("job-1", 5_000, AbortSignal.abort(new Error("gone")))).rejects.toThrow(
      "gone",
    );
  });

  it("a settlement wakes the job's waiters (true), not other jobs' (false after their timeout)", async () => {
    const events = new JobEvents();
    const mine = events.waitForSettled("job-1", 5_000);
    const other = events.waitForSettled("job-2", 50);
    events.settled("job-1");
    expect(await mine).toBe(true);
    expect(await other).toBe(false);
  });

  it("a subscription taken before looking catches a settlement announced before its wait begins", async () => {
    const events = new JobEvents();
    const subscription = events.subscribe("job-1");
    events.settled("job-1"); // e.g. while the subscriber was reading KIE
    expect(subscription.settled).toBe(true);
    expect(subscription.signal.aborted).toBe(true);
    expect(await subscription.wait(5_000)).toBe(true);
    subscription.close();
  });
});
