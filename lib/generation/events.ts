/**
 * "Job X settled" announcements, so a waiting sync request wakes the moment any path (a poll, a
 * callback, the reconciler — on any instance) settles its job (DESIGN.md §5). In-process through
 * an emitter; across instances through Postgres LISTEN/NOTIFY (settle() sends the NOTIFY).
 */
import { EventEmitter } from "node:events";
import type pg from "pg";
import type { Logger } from "@/lib/observability/logger";

export class JobEvents {
  private readonly emitter = new EventEmitter();
  private stopListening?: () => Promise<void>;

  constructor() {
    // One listener per waiting request: there is no leak to warn about.
    this.emitter.setMaxListeners(0);
  }

  settled(jobId: string): void {
    this.emitter.emit(jobId);
  }

  /**
   * Resolves true when `jobId` settles within `timeoutMs`, false when the time runs out first.
   * Rejects with the signal's reason on abort.
   */
  waitForSettled(jobId: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const done = (result: boolean) => {
        clearTimeout(timer);
        this.emitter.off(jobId, onSettled);
        signal?.removeEventListener("abort", onAbort);
        resolve(result);
      };
      const onSettled = () => done(true);
      const onAbort = () => {
        done(false);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => done(false), Math.max(0, timeoutMs));
      this.emitter.on(jobId, onSettled);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Relays NOTIFYs from other instances. Holds one pooled connection; if it drops, it reconnects
   * after a pause (a missed announcement only delays a waiter to its next fallback poll).
   */
  async listen(pool: pg.Pool, channel: string, logger: Logger): Promise<void> {
    let stopped = false;
    let client: pg.PoolClient | undefined;
    let retry: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      try {
        client = await pool.connect();
        client.on("notification", (message) => {
          if (message.channel === channel && message.payload) this.settled(message.payload);
        });
        client.on("error", (error) => {
          logger.warn({ err: error }, "LISTEN connection failed; reconnecting");
          client?.release(true);
          client = undefined;
          if (!stopped) retry = setTimeout(() => void connect(), 1_000);
        });
        await client.query(`LISTEN ${channel}`);
      } catch (error) {
        logger.warn({ err: error }, "could not LISTEN for settled jobs; retrying");
        client?.release(true);
        client = undefined;
        if (!stopped) retry = setTimeout(() => void connect(), 5_000);
      }
    };
    await connect();
    this.stopListening = async () => {
      stopped = true;
      clearTimeout(retry);
      client?.release(true);
      client = undefined;
    };
  }

  async close(): Promise<void> {
    await this.stopListening?.();
    this.emitter.removeAllListeners();
  }
}
