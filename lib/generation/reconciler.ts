import type { Logger } from "@/lib/observability/logger";

/**
 * The in-process maintenance timer: a sweep every `everyMs` (never two at once) settles jobs
 * nobody is watching — closed tabs, lost callbacks, a crash mid-request — and times out the ones
 * past KIE_TIMEOUT_MS. Instances share the work through the database (SKIP LOCKED).
 */
export function startReconciler(
  sweep: () => Promise<unknown>,
  options: { everyMs: number; logger: Logger },
): { stop: () => Promise<void> } {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = sweep()
      .catch((error) => options.logger.error({ err: error }, "reconciler sweep failed"))
      .finally(() => {
        running = undefined;
      });
  }, options.everyMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
