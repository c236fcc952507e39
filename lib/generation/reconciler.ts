import type { Logger } from "@/lib/observability/logger";

/** How long stop() waits for a sweep it has aborted (its KIE reads stop at once; SQL finishes). */
const STOP_WAIT_MS = 3_000;

/**
 * The in-process maintenance timer: a sweep every `everyMs` (never two at once) settles jobs
 * nobody is watching — closed tabs, lost callbacks, a crash mid-request — and times out the ones
 * past KIE_TIMEOUT_MS. Instances share the work through the database (each sweep claims its jobs
 * with a lease). stop() aborts a sweep in progress and waits for it a bounded time.
 */
export function startReconciler(
  sweep: (signal: AbortSignal) => Promise<unknown>,
  options: { everyMs: number; logger: Logger },
): { stop: () => Promise<void> } {
  const stopping = new AbortController();
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running || stopping.signal.aborted) return;
    running = sweep(stopping.signal)
      .catch((error) => {
        if (!stopping.signal.aborted) options.logger.error({ err: error }, "reconciler sweep failed");
      })
      .finally(() => {
        running = undefined;
      });
  }, options.everyMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      stopping.abort();
      if (!running) return;
      let waited: NodeJS.Timeout | undefined;
      await Promise.race([running, new Promise((resolve) => (waited = setTimeout(resolve, STOP_WAIT_MS)))]);
      clearTimeout(waited);
    },
  };
}
