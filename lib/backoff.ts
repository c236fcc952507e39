/**
 * Full-jitter exponential backoff, shared by the KIE client's retries and a sync request's
 * fallback polling. A leaf: it imports nothing. `random` is injected so tests can assert delays.
 */

export interface BackoffOptions {
  /** Delay cap for attempt 0; doubles with each attempt. */
  baseMs: number;
  /** Upper bound of the cap, whatever the attempt. */
  maxMs: number;
}

/**
 * Full-jitter exponential backoff (AWS architecture blog, "Exponential Backoff And Jitter"):
 * `random() * min(maxMs, baseMs * 2 ** attempt)`. Spreading retries over the whole window keeps
 * many clients that failed together from retrying together.
 */
export function fullJitterDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
) {
  const cap = backoffCap(attempt, options);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * cap);
}

/** The window `fullJitterDelay` draws from: `min(maxMs, baseMs * 2 ** attempt)`. */
export function backoffCap(attempt: number, { baseMs, maxMs }: BackoffOptions): number {
  // 2 ** 1100 is Infinity; min() still gives maxMs, so large attempts stay safe.
  return Math.max(0, Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt)));
}
