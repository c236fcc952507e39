/**
 * Jobs as the UI tells of them: the typical duration, a place in line; and an abortable sleep
 * (the shared watch, lib/ui/watch.ts, follows the jobs themselves).
 */
import type { Job } from "./types";

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * "usually ~12 s": the median time this user's recent successful jobs took, or undefined when
 * there are fewer than two to go by.
 */
export function typicalSeconds(jobs: readonly Job[]): number | undefined {
  const durations = jobs
    .filter((job) => job.status === "succeeded" && job.createdAt && job.settledAt)
    .slice(0, 20)
    .map((job) => (Date.parse(job.settledAt!) - Date.parse(job.createdAt!)) / 1000)
    .filter((seconds) => Number.isFinite(seconds) && seconds >= 0)
    .sort((a, b) => a - b);
  if (durations.length < 2) return undefined;
  const middle = Math.floor(durations.length / 2);
  const median =
    durations.length % 2 === 1 ? durations[middle]! : (durations[middle - 1]! + durations[middle]!) / 2;
  return Math.max(1, Math.round(median));
}

/** "1st", "2nd", "3rd", "4th", "11th", "22nd". */
function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] ?? "th"}`;
}

/** A job waiting in line (DESIGN.md §10): "In line: 3rd, about 8 s". */
export function lineLabel(queuePosition: number, etaMs: number | undefined): string {
  const seconds = Math.max(1, Math.round((etaMs ?? 0) / 1000));
  return `In line: ${ordinal(queuePosition)}, about ${seconds} s`;
}
