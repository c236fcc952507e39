/**
 * "Job X settled" announcements, so a waiting request wakes the moment any path (a poll, a
 * callback, the reconciler — on any instance) settles its job (DESIGN.md §3, §5). In-process
 * through an emitter; across instances through Postgres LISTEN/NOTIFY (settle() sends the NOTIFY),
 * on one LISTEN connection per instance however many requests wait.
 */
import { EventEmitter } from "node:events";
import type pg from "pg";
import type { Logger } from "@/lib/observability/logger";

/** Interest in one job's settlement, taken before looking at the job so no announcement is missed. */
export interface JobSubscription {
  /** Whether the job was announced settled since subscribing. */
  readonly settled: boolean;
  /** Aborts when the job is announced settled (e.g. to cut short a KIE read nobody needs any more). */
  readonly signal: AbortSignal;
  /**
   * Resolves true once the job is announced settled (at once if it already was), false when
   * `timeoutMs` passes first. Rejects with the signal's reason on abort.
   */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  close(): void;
}

export class JobEvents {
  private readonly emitter = new EventEmitter();
  private stopListening?: () => Promise<void>;

  constructor() {
    // One listener per waiting request or job watch: there is no leak to warn about.
    this.emitter.setMaxListeners(0);
  }

  settled(jobId: string): void {
    this.emitter.emit(jobId);
  }

  subscribe(jobId: string): JobSubscription {
    const fired = new AbortController();
    const onSettled = () => fired.abort();
    this.emitter.once(jobId, onSettled);
    return {
      get settled() {
        return fired.signal.aborted;
      },
      signal: fired.signal,
      wait: (timeoutMs, signal) => waitForAbort(fired.signal, timeoutMs, signal),
      close: () => this.emitter.off(jobId, onSettled),
    };
  }

  /**
   * Resolves true when `jobId` settles within `timeoutMs`, false when the time runs out first.
   * Rejects with the signal's reason on abort.
   */
  async waitForSettled(jobId: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const subscription = this.subscribe(jobId);
    try {
      return await subscription.wait(timeoutMs, signal);
    } finally {
      subscription.close();
    }
  }

  /**
   * Relays NOTIFYs from other instances. Holds one pooled connection; if it drops, it reconnects
   * after a pause (a missed announcement only delays a waiter to its next look at the job).
   * Single-flight: a broken connection is released once and one reconnect is scheduled, however
   * many ways it reports its end (an error message, the socket's end, a failed LISTEN), so no
   * second connection is left checked out for `pool.end()` to wait on forever.
   */
  async listen(pool: pg.Pool, channel: string, logger: Logger): Promise<void> {
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    let dropCurrent: (() => void) | undefined;
    let connecting: Promise<void> | undefined;

    const reconnectIn = (delayMs: number): void => {
      if (stopped || retry) return;
      retry = setTimeout(() => {
        retry = undefined;
        connecting = connect();
      }, delayMs);
    };

    const connect = async (): Promise<void> => {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        logger.warn({ err: error }, "could not LISTEN for settled jobs; retrying");
        return reconnectIn(5_000);
      }
      let released = false;
      const drop = (): boolean => {
        if (released) return false;
        released = true;
        if (dropCurrent === drop) dropCurrent = undefined;
        client.release(true);
        return true;
      };
      const fail = (error: unknown): void => {
        if (!drop()) return; // already released: this is the same failure told another way
        logger.warn({ err: error }, "LISTEN connection failed; reconnecting");
        reconnectIn(1_000);
      };
      // Stays attached after release: a late "error" without a listener would crash the process.
      client.on("error", fail);
      client.on("end", () => fail(new Error("the LISTEN connection ended")));
      client.on("notification", (message) => {
        if (message.channel === channel && message.payload) this.settled(message.payload);
      });
      if (stopped) return void drop();
      dropCurrent = drop;
      await client.query(`LISTEN ${channel}`).catch(fail);
    };

    connecting = connect();
    await connecting;
    this.stopListening = async () => {
      stopped = true;
      clearTimeout(retry);
      retry = undefined;
      await connecting; // a connect under way finishes first, and releases what it got
      dropCurrent?.();
    };
  }

  async close(): Promise<void> {
    await this.stopListening?.();
    this.emitter.removeAllListeners();
  }
}

/** True when `fired` aborts within `timeoutMs`, false after it; rejects when `signal` aborts first. */
function waitForAbort(fired: AbortSignal, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    if (fired.aborted) return resolve(true);
    const cleanup = () => {
      clearTimeout(timer);
      fired.removeEventListener("abort", onFired);
      signal?.removeEventListener("abort", onAbort);
    };
    const onFired = () => {
      cleanup();
      resolve(true);
    };
    const onAbort = () => {
      cleanup();
      reject(signal?.reason);
    };
    const timer = setTimeout(
      () => {
        cleanup();
        resolve(false);
      },
      Math.max(0, timeoutMs),
    );
    fired.addEventListener("abort", onFired, { once: true });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
