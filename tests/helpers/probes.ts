/** Small probes shared by the integration suites: what a user sees, and bounded waiting. */
import type { Harness } from "./appHarness";

/** The balance GET /api/credits reports to the user. */
export async function creditsOf(h: Harness, token: string): Promise<number> {
  const response = await h.fetch("/api/credits", { token });
  const body = await response.json();
  if (response.status !== 200)
    throw new Error(`GET /api/credits answered ${response.status}: ${JSON.stringify(body)}`);
  return body.balance as number;
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Probes until `accept` holds, at most `attempts` times `intervalMs` apart; fails the test with
 * the last value otherwise. Deterministic bound, no open-ended waiting.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T> | T,
  accept: (value: T) => boolean,
  { attempts = 200, intervalMs = 25 }: { attempts?: number; intervalMs?: number } = {},
): Promise<T> {
  let last: T | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    last = await probe();
    if (accept(last)) return last;
    await pause(intervalMs);
  }
  throw new Error(`gave up waiting for ${what}; last value: ${JSON.stringify(last)}`);
}
