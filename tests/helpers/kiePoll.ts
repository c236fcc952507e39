/**
 * Reads a KIE task until it ends, for the suites that drive a KieClient against a live KIE (kie-sim
 * or the real one). The app's own polling lives in lib/generation; these suites only need the end.
 */
import type { KieClient, TaskRecord } from "@/lib/kie";

export interface PollTaskOptions {
  requestId: string;
  /** Give up (throw) after this long. */
  budgetMs: number;
  /** Wait between two reads. */
  intervalMs: number;
  /** Called with each record read. */
  onRecord?: (record: TaskRecord) => void;
}

/** Resolves with the first record whose state is success or fail. */
export async function pollTask(
  client: KieClient,
  taskId: string,
  options: PollTaskOptions,
): Promise<TaskRecord> {
  const deadline = Date.now() + options.budgetMs;
  for (;;) {
    const record = await client.getTaskStatus(taskId, { requestId: options.requestId });
    options.onRecord?.(record);
    if (record.state === "success" || record.state === "fail") return record;
    if (Date.now() >= deadline) {
      throw new Error(`task ${taskId} still ${record.state} after ${options.budgetMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}
