/**
 * The KIE client's retry helpers: Retry-After, and an abortable sleep (backoff itself is
 * lib/backoff.ts). Kept free of timers-as-globals: callers inject `now` and `sleep` so tests can
 * assert the delays.
 */

/**
 * Parses an HTTP `Retry-After` value: delta-seconds (`"120"`) or an HTTP-date. Returns the wait
 * in milliseconds (never negative), or undefined when the header is absent or unparseable.
 */
export function parseRetryAfter(headerValue: string | null | undefined, nowMs: number): number | undefined {
  if (headerValue == null) return undefined;
  const value = headerValue.trim();
  if (value === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  // A bare negative or otherwise numeric-looking value is not a date; Date.parse would accept some.
  if (/^[-+]?\d/.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Resolves after `ms`; rejects with the signal's reason as soon as the signal aborts. */
export const sleep: SleepFn = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** The error a caller's abort should surface as: its own reason, or a standard AbortError. */
export function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException("This operation was aborted", "AbortError");
}
