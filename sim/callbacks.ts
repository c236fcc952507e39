/**
 * The completion callback (kie-api.md "Callback"): the body KIE POSTs to `callBackUrl`, the
 * optional webhook HMAC, and the `[sim:callback=…]` directives that send it late, twice, never or
 * out of order. Failures are logged and counted, never retried.
 */
import { createHmac } from "node:crypto";
import { describeError } from "./fetchGuard";
import { sleep } from "./net";
import { FAIL_DEFAULT_MESSAGE, type FinalOutcome, type KieSimLogger, type SimTask } from "./taskRecord";

export interface CallbackSenderOptions {
  stepMs: number;
  callbackTimeoutMs: number;
  webhookHmacKey?: string;
  logger: KieSimLogger;
  /** Aborted when the simulator closes. */
  signal: AbortSignal;
  /** Told of every POST attempted: whether it got a 2xx answer. */
  onCallback(ok: boolean): void;
}

/** A final task and how it ended, as one callback is about. */
export interface CallbackJob {
  task: SimTask;
  outcome: FinalOutcome;
}

export class CallbackSender {
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Callbacks held back by [sim:callback=reorder] until another task's callback has gone out. */
  private readonly held = new Map<string, () => void>();

  constructor(private readonly options: CallbackSenderOptions) {}

  /** Stops the timers of held callbacks and forgets them; used by close(). */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.held.clear();
  }

  /** Sends the callback for a task that has just ended, as its `[sim:callback=…]` directive says. */
  async dispatch(job: CallbackJob): Promise<void> {
    if (!job.task.callBackUrl) return;
    const mode = job.task.directives.callback;
    switch (mode.kind) {
      case "none":
        return;
      case "late":
        await sleep(mode.ms, this.options.signal);
        await this.send(job);
        return;
      case "duplicate":
        await this.send(job);
        await this.send(job);
        return;
      case "reorder":
        return this.hold(job);
      default:
        await this.send(job);
    }
  }

  /** POSTs one callback now. */
  async send(job: CallbackJob): Promise<void> {
    const { task } = job;
    const url = task.callBackUrl;
    if (!url || this.options.signal.aborted) return;
    const taskId = task.record.taskId;
    task.callbacksSent += 1;
    let ok = false;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: this.headers(taskId),
        body: callbackBody(job),
        signal: AbortSignal.any([AbortSignal.timeout(this.options.callbackTimeoutMs), this.options.signal]),
      });
      await response.body?.cancel().catch(() => {});
      ok = response.ok;
      if (!ok) {
        this.options.logger.warn(
          { taskId, status: response.status },
          "kie-sim callback answered with an error",
        );
      }
    } catch (error) {
      if (!this.options.signal.aborted) {
        this.options.logger.warn(
          { taskId, err: describeError(error) },
          "kie-sim callback could not be delivered",
        );
      }
    }
    this.options.onCallback(ok);
    // A reordered callback waits for the next one that is not itself held back.
    if (this.held.size > 0 && !this.held.has(taskId)) {
      for (const release of [...this.held.values()]) release();
    }
  }

  private headers(taskId: string): Record<string, string> {
    const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "kie-sim" };
    if (this.options.webhookHmacKey) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      headers["x-webhook-timestamp"] = timestamp;
      headers["x-webhook-signature"] = createHmac("sha256", this.options.webhookHmacKey)
        .update(`${taskId}.${timestamp}`)
        .digest("base64");
    }
    return headers;
  }

  /** Sends after the next other task's callback, or after a while if no other task finishes. */
  private hold(job: CallbackJob): Promise<void> {
    const taskId = job.task.record.taskId;
    return new Promise((resolve) => {
      const release = () => {
        if (!this.held.delete(taskId)) return;
        clearTimeout(timer);
        this.timers.delete(timer);
        void this.send(job).finally(resolve);
      };
      const timer = setTimeout(release, Math.max(1000, this.options.stepMs * 10));
      this.timers.add(timer);
      this.held.set(taskId, release);
    });
  }
}

function callbackBody({ task, outcome }: CallbackJob): string {
  const r = task.record;
  if (outcome.state === "success") {
    return JSON.stringify({
      code: 200,
      msg: "Playground task completed successfully.",
      data: { ...r, state: "success", resultJson: JSON.stringify({ resultUrls: [outcome.resultUrl] }) },
    });
  }
  // kie-api.md: on failure resultJson is null and param may be missing; it is left out here so
  // receivers prove they cope.
  const { param: _param, ...rest } = r;
  return JSON.stringify({
    code: 501,
    msg: outcome.failMsg ?? "Playground task failed.",
    data: {
      ...rest,
      state: "fail",
      resultJson: null,
      failCode: outcome.failCode ?? "500",
      failMsg: outcome.failMsg ?? FAIL_DEFAULT_MESSAGE,
    },
  });
}
