import type { Logger } from "@/lib/observability/logger";

/** What one pass of the drain ended with: the line is empty (or not ours now), or no token yet. */
export type DrainPass = { kind: "idle" } | { kind: "wait"; ms: number };

/** After a pass failed (the database hiccupped), the next one starts this much later. */
const RETRY_AFTER_ERROR_MS = 1_000;
/** How long stop() waits for a pass it has aborted (createTasks in flight are let finish). */
const STOP_WAIT_MS = 3_000;

/**
 * This process's drain of the line (docs/JOBS.md "The line"): one pass at a time, woken when a
 * job joins the line, when tokens come back (the pass said how long to wait), and by the
 * reconciler's sweep (a line left by an instance that died). A wake during a pass runs another
 * pass after it. The pass itself (drain.ts) is given by start(); until then wake() does nothing.
 */
export class LineDrain {
  private pass?: (signal: AbortSignal) => Promise<DrainPass>;
  private logger?: Logger;
  private running?: Promise<void>;
  private again = false;
  private timer?: NodeJS.Timeout;
  /** After a KIE 429, no pass before this (besides the shared budget's own pause). */
  private notBefore = 0;
  private readonly stopping = new AbortController();

  start(pass: (signal: AbortSignal) => Promise<DrainPass>, logger: Logger): void {
    this.pass = pass;
    this.logger = logger;
  }

  wake(): void {
    if (!this.pass || this.stopping.signal.aborted) return;
    const paused = this.notBefore - Date.now();
    if (paused > 0) {
      this.wakeIn(paused);
      return;
    }
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.run(this.pass).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async run(pass: (signal: AbortSignal) => Promise<DrainPass>): Promise<void> {
    this.again = false;
    let later: number | undefined;
    try {
      const outcome = await pass(this.stopping.signal);
      if (outcome.kind === "wait") later = outcome.ms;
    } catch (error) {
      if (!this.stopping.signal.aborted) this.logger?.error({ err: error }, "line drain pass failed");
      later = RETRY_AFTER_ERROR_MS;
    }
    if (later !== undefined) this.wakeIn(later);
  }

  /**
   * KIE refused a create (429): this drain sends nothing for `ms` either, whatever the budget
   * says — an unlimited budget (no adapter) must not turn a 429 into a tight loop.
   */
  pause(ms: number): void {
    this.notBefore = Math.max(this.notBefore, Date.now() + ms);
    this.wakeIn(this.notBefore - Date.now());
  }

  paused(): boolean {
    return this.notBefore > Date.now();
  }

  private wakeIn(ms: number): void {
    if (this.stopping.signal.aborted) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), Math.max(10, ms));
    this.timer.unref();
  }

  /** No new pass starts; a running one stops claiming and is waited for a bounded time. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    if (!this.running) return;
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([
      this.running,
      new Promise((resolve) => (waited = setTimeout(resolve, STOP_WAIT_MS))),
    ]);
    clearTimeout(waited);
  }
}
