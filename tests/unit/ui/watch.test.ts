/**
 * The one watch the tabs share (lib/ui/watch.ts): one request for every followed job
 * (`GET /api/generations?taskIds=` with `Prefer: wait=25`), network weather ridden out, a job
 * that is gone ends its follow, and a second tab learns from the leader without asking itself.
 */
import { describe, expect, it } from "vitest";
import { SharedWatch, type WatchDeps } from "@/lib/ui/watch";

const page = (generations: object[], extra: object = {}, headers: Record<string, string> = {}) =>
  Response.json({ success: true, generations, nextCursor: null, notFound: [], ...extra }, { headers });
const job = (taskId: string, status: string) => ({ taskId, status, prompt: taskId });
const waited = { "preference-applied": "wait=25" };
const follow = (watch: SharedWatch, taskId: string, updates: string[] = []) =>
  watch.follow(taskId, new AbortController().signal, (j) => updates.push(`${taskId}:${j.status}`));

describe("the shared watch", () => {
  it("asks once for all the followed jobs, with Prefer: wait; without Preference-Applied it waits first", async () => {
    const asked: Array<{ ids: string | null; prefer: string | null }> = [];
    const sleeps: number[] = [];
    const answers = [
      () => page([job("a", "pending"), job("b", "processing")]),
      () => page([job("a", "succeeded"), job("b", "processing")], { remainingCredits: 8 }, waited),
      () => page([job("b", "failed")], { remainingCredits: 9 }, waited),
    ];
    let release: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      release = resolve;
    });
    const deps: WatchDeps = {
      fetchImpl: async (url, init) => {
        await started;
        asked.push({
          ids: new URL(String(url), "http://x").searchParams.get("taskIds"),
          prefer: new Headers(init?.headers).get("prefer"),
        });
        return answers.shift()!();
      },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    };
    const watch = new SharedWatch(deps);
    const updates: string[] = [];
    const a = follow(watch, "a", updates);
    const b = follow(watch, "b", updates);
    release();
    await expect(a).resolves.toMatchObject({ status: "succeeded", remainingCredits: 8 });
    await expect(b).resolves.toMatchObject({ status: "failed", remainingCredits: 9 });
    // The first request may have been cut short when b joined; every answered one named both.
    expect(asked.slice(-3)).toEqual([
      { ids: "a,b", prefer: "wait=25" },
      { ids: "a,b", prefer: "wait=25" },
      { ids: "b", prefer: "wait=25" },
    ]);
    expect(updates).toEqual(["a:pending", "b:processing", "a:succeeded", "b:processing", "b:failed"]);
    expect(sleeps).toEqual([1000]); // only after the answer that ignored the wait
  });

  it("rides out a network error and a 503; a job that is gone, or a refusal, ends its follow", async () => {
    const answers: Array<() => Response> = [
      () => {
        throw new TypeError("fetch failed");
      },
      () => Response.json({ success: false, error: { code: "service_unavailable" } }, { status: 503 }),
      () => page([job("kept", "processing")], { notFound: ["gone"] }, waited),
      () =>
        Response.json(
          { success: false, error: { code: "unauthorized", message: "Sign in." } },
          { status: 401 },
        ),
    ];
    const watch = new SharedWatch({
      fetchImpl: async () => answers.shift()!(),
      sleep: async () => undefined,
    });
    const gone = follow(watch, "gone").catch((error) => error);
    const kept = follow(watch, "kept").catch((error) => error);
    expect(await gone).toMatchObject({ code: "not_found", status: 404 });
    expect(await kept).toMatchObject({ code: "unauthorized", status: 401 });
    expect(answers).toHaveLength(0);
  });

  it("a second tab learns from the leader over the channel and never asks itself", async () => {
    const name = `watch-test-${Math.random()}`;
    const asked: string[] = [];
    const answers = [
      () => page([job("mine", "processing"), job("theirs", "processing")], {}, waited),
      () => page([job("mine", "succeeded"), job("theirs", "succeeded")], {}, waited),
    ];
    // The lock: the first tab to ask leads; the second waits for ever (the leader stays open).
    let leader = false;
    const elect: WatchDeps["elect"] = (lead) => {
      if (leader) return;
      leader = true;
      void lead();
    };
    const leaderTab = new SharedWatch({
      channel: new BroadcastChannel(name),
      elect,
      sleep: async () => undefined,
      fetchImpl: async (url, init) => {
        const ids = new URL(String(url), "http://x").searchParams.get("taskIds") ?? "";
        asked.push(ids);
        // A request without the other tab's job is held (as a long-poll is) until it is cut short.
        const signal = init?.signal as AbortSignal;
        if (!ids.includes("theirs"))
          await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
        return answers.shift()?.() ?? new Promise<Response>(() => undefined);
      },
    });
    const otherTab = new SharedWatch({
      channel: new BroadcastChannel(name),
      elect,
      sleep: async () => undefined,
      fetchImpl: async () => {
        throw new Error("the second tab must not ask");
      },
    });
    const mine = follow(leaderTab, "mine");
    const theirs = follow(otherTab, "theirs");
    await expect(theirs).resolves.toMatchObject({ status: "succeeded" });
    await expect(mine).resolves.toMatchObject({ status: "succeeded" });
    expect(asked.at(-1)).toBe("mine,theirs");
    otherTab.close();
    leaderTab.close();
  });
});
