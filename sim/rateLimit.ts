/** createTask's optional rate limit, like KIE's (about 20 per 10 s): a sliding window of starts. */
export class SlidingWindowLimit {
  private readonly starts: number[] = [];

  constructor(private readonly limit: { limit: number; windowMs: number }) {}

  /** Seconds to wait when the window is full (for Retry-After); undefined when there is room. */
  retryAfter(): number | undefined {
    const now = Date.now();
    const { limit, windowMs } = this.limit;
    while (this.starts.length > 0 && this.starts[0]! <= now - windowMs) this.starts.shift();
    if (this.starts.length < limit) return undefined;
    return Math.max(1, Math.ceil((this.starts[0]! + windowMs - now) / 1000));
  }

  /** Counts one accepted request. */
  record(): void {
    this.starts.push(Date.now());
  }
}
