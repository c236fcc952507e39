/**
 * Following a job until it settles (DESIGN.md §3): `Prefer: wait=25` holds each request until the
 * job changes or 25 s pass; a server that does not honour it (no `Preference-Applied`) is polled
 * every `pollAfterMs`. Network hiccups (a sleeping laptop, a restarting server) are retried with
 * backoff: the job lives on the server, so the page keeps following it.
 */
import { ApiProblem, readApi } from "./api";
import { isRunning, type Job } from "./types";

const WAIT_SECONDS = 25;

export interface FollowOptions {
  signal: AbortSignal;
  onUpdate: (job: Job) => void;
  /** Injected in tests. */
  fetchImpl?: typeof fetch;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export async function followJob(taskId: string, options: FollowOptions): Promise<Job> {
  const fetchImpl = options.fetchImpl ?? fetch;
  const sleep = options.sleep ?? abortableSleep;
  let failures = 0;
  for (;;) {
    options.signal.throwIfAborted();
    let response: Response;
    try {
      response = await fetchImpl(`/api/generate/${encodeURIComponent(taskId)}`, {
        headers: { prefer: `wait=${WAIT_SECONDS}` },
        cache: "no-store",
        credentials: "same-origin",
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal.aborted) throw error;
      failures++;
      await sleep(Math.min(10_000, 500 * 2 ** failures), options.signal);
      continue;
    }
    let job: Job;
    try {
      job = await readApi<Job>(response);
    } catch (error) {
      // A 5xx or rate limit is passing weather; anything else (401, 404) ends the follow.
      const transient =
        error instanceof ApiProblem && (error.status >= 500 || error.status === 429 || error.status === 0);
      if (!transient) throw error;
      failures++;
      const retryMs = (error as ApiProblem).retryAfterSeconds;
      await sleep(retryMs ? retryMs * 1000 : Math.min(10_000, 500 * 2 ** failures), options.signal);
      continue;
    }
    failures = 0;
    options.onUpdate(job);
    if (!isRunning(job.status)) return job;
    if (!response.headers.has("preference-applied")) {
      await sleep(Math.max(250, job.pollAfterMs ?? 1000), options.signal);
    }
  }
}

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
