import type { Logger } from "@/lib/observability/logger";

/** How long stop() waits for the sweeps it has aborted (their KIE reads stop at once; SQL finishes). */
const STOP_WAIT_MS = 3_000;

/** One maintenance loop's pass; `signal` aborts when the server stops. */
export type Sweep = (signal: AbortSignal) => Promise<unknown>;

/**
 * The in-process maintenance timer: every `everyMs`, each named loop runs a pass unless its own
 * previous pass is still running. The loops are independent: the jobs' sweep (settling jobs nobody
 * is watching — closed tabs, lost callbacks, a crash mid-request — and timing out the ones past
 * KIE_TIMEOUT_MS) never waits for the images' (copies into a slow store). Instances share the work
 * through the database (each pass claims its rows with a lease). stop() aborts every pass in
 * progress and waits for them a bounded time.
 */
export function startReconciler(
  loops: Record<string, Sweep>,
  options: { everyMs: number; logger: Logger },
): { stop: () => Promise<void> } {
  const stopping = new AbortController();
  const running = new Map<string, Promise<unknown>>();
  const timer = setInterval(() => {
    for (const [name, sweep] of Object.entries(loops)) {
      if (running.has(name) || stopping.signal.aborted) continue;
      const pass = sweep(stopping.signal)
        .catch((error) => {
          if (!stopping.signal.aborted)
            options.logger.error({ err: error, loop: name }, "reconciler sweep failed");
        })
        .finally(() => running.delete(name));
      running.set(name, pass);
    }
  }, options.everyMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      stopping.abort();
      if (running.size === 0) return;
      let waited: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(running.values()),
        new Promise((resolve) => (waited = setTimeout(resolve, STOP_WAIT_MS))),
      ]);
      clearTimeout(waited);
    },
  };
}
