/**
 * KIE's account limits (kie-api.md "Rate limit"): about 20 createTask per 10 s and a few status
 * reads per second, per API key, HTTP 429 beyond (rejected, not queued), Retry-After optional.
 * Each limited endpoint keeps a sliding window of accepted calls per account; with no limit set it
 * still counts them over KIE's window, so a test can ask what KIE would have seen.
 */
import { BoundedMap } from "./store";

export interface EndpointLimitSettings {
  /** Accepted calls per window and account; undefined = no limit (only counted). */
  limit?: number;
  windowMs: number;
  /** Send Retry-After with a 429 (KIE may leave it out). */
  retryAfter: boolean;
}

/** What one endpoint's limit saw (GET /__sim/limits); no account is named. */
export interface KieSimLimitSnapshot {
  limit: number | null;
  windowMs: number;
  retryAfter: boolean;
  /** Calls accepted and refused (429) since the last reset, all accounts together. */
  accepted: number;
  refused: number;
  /** The most calls one account had accepted in any span of `windowMs`. */
  maxAcceptedInWindow: number;
}

/** A refusal: HTTP 429, with Retry-After in seconds when the limit sends one. */
export interface Refusal {
  retryAfterSeconds?: number;
}

/** More accounts than this and the least recently seen one is forgotten (keys are free-form). */
const MAX_ACCOUNTS = 1000;

export class EndpointLimit {
  private readonly accounts = new BoundedMap<string, number[]>({ maxEntries: MAX_ACCOUNTS });
  private accepted = 0;
  private refused = 0;
  private peak = 0;

  constructor(private readonly settings: EndpointLimitSettings) {}

  /** The refusal when the account's window is full; undefined when there is room. */
  check(account: string): Refusal | undefined {
    const { limit, windowMs, retryAfter } = this.settings;
    if (limit === undefined) return undefined;
    const now = Date.now();
    const starts = this.window(account, now);
    if (starts.length < limit) return undefined;
    this.refused += 1;
    if (!retryAfter) return {};
    return { retryAfterSeconds: Math.max(1, Math.ceil((starts[0]! + windowMs - now) / 1000)) };
  }

  /** Counts one accepted call. */
  record(account: string): void {
    const now = Date.now();
    const starts = this.window(account, now);
    starts.push(now);
    this.accounts.set(account, starts);
    this.accepted += 1;
    this.peak = Math.max(this.peak, starts.length);
  }

  snapshot(): KieSimLimitSnapshot {
    const { limit, windowMs, retryAfter } = this.settings;
    return {
      limit: limit ?? null,
      windowMs,
      retryAfter,
      accepted: this.accepted,
      refused: this.refused,
      maxAcceptedInWindow: this.peak,
    };
  }

  reset(): void {
    this.accepted = 0;
    this.refused = 0;
    this.peak = 0;
    this.accounts.clear();
  }

  /** The account's accepted calls within the last window, oldest first. */
  private window(account: string, now: number): number[] {
    const starts = this.accounts.get(account) ?? [];
    while (starts.length > 0 && starts[0]! <= now - this.settings.windowMs) starts.shift();
    return starts;
  }
}
