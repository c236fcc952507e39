/**
 * The task lifecycle: waiting → queuing → generating → success | fail on timers, the image drawn
 * while "generating", and the completion callback (kie-api.md "Callback"), including the prompt
 * directives that bend it ([sim:fail], [sim:never], [sim:delay], [sim:callback=…]).
 */
import { createHmac, randomBytes } from "node:crypto";
import type { Agent } from "undici";
import type { PromptDirectives } from "./directives";
import { FetchError, guardedFetchBytes } from "./fetchGuard";
import {
  EXTENSION_BY_FORMAT,
  ImageInputError,
  inspectInputImage,
  MIME_BY_FORMAT,
  outputSize,
  renderEdit,
  renderTextToImage,
} from "./images";
import type { NormalizedTaskInput, SimModelSpec } from "./models";
import { sleep } from "./net";
import type { BoundedMap, StoredBlob } from "./store";

export type KieTaskState = "waiting" | "queuing" | "generating" | "success" | "fail";

/** `data` of recordInfo, field for field as kie-api.md shows it. */
export interface KieRecordData {
  taskId: string;
  model: string;
  state: KieTaskState;
  /** The createTask body, JSON-encoded. */
  param: string;
  /** `{"resultUrls":[…]}` JSON-encoded on success; "" before and on failure. */
  resultJson: string;
  failCode: string;
  failMsg: string;
  costTime: number | null;
  completeTime: number | null;
  createTime: number;
  updateTime: number;
  creditsConsumed?: number;
}

export interface KieSimLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

interface FinalOutcome {
  state: "success" | "fail";
  resultUrl?: string;
  failCode?: string;
  failMsg?: string;
}

export interface SimTask {
  record: KieRecordData;
  /** recordInfo answers "recordInfo is null" until this time (epoch ms). */
  visibleAt: number;
  callBackUrl?: string;
  directives: PromptDirectives;
  input: NormalizedTaskInput;
  resultUrl?: string;
  callbacksSent: number;
}

export interface TaskEngineDeps {
  tasks: BoundedMap<string, SimTask>;
  blobs: BoundedMap<string, StoredBlob>;
  stepMs: number;
  recordDelayMs: number;
  imageScale: number;
  fetchTimeoutMs: number;
  /** The guarded connection pool for image_urls (fetchGuard.ts). */
  fetchAgent: Agent;
  trustedFetchOrigins: readonly string[];
  callbackTimeoutMs: number;
  webhookHmacKey?: string;
  logger: KieSimLogger;
  /** Aborted when the simulator closes. */
  signal: AbortSignal;
  publicBase(): string;
  /** Bytes of a URL this simulator serves itself (no HTTP round trip), or undefined for other URLs. */
  resolveOwnUrl(url: string): { blob?: StoredBlob } | undefined;
  onCredits(delta: number): void;
  onCallback(ok: boolean): void;
  onFinished(state: "success" | "fail"): void;
}

const FAIL_DEFAULT_MESSAGE = "Simulated generation failure ([sim:fail])";

export class TaskEngine {
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Callbacks held back by [sim:callback=reorder] until another task's callback has gone out. */
  private readonly held = new Map<string, () => void>();

  constructor(private readonly deps: TaskEngineDeps) {}

  create(options: {
    model: SimModelSpec;
    body: unknown;
    callBackUrl?: string;
    input: NormalizedTaskInput;
    directives: PromptDirectives;
  }): SimTask {
    const now = Date.now();
    const task: SimTask = {
      record: {
        taskId: randomBytes(16).toString("hex"),
        model: options.model.id,
        state: "waiting",
        param: JSON.stringify(options.body),
        resultJson: "",
        failCode: "",
        failMsg: "",
        costTime: null,
        completeTime: null,
        createTime: now,
        updateTime: now,
      },
      visibleAt: now + this.deps.recordDelayMs,
      callBackUrl: options.callBackUrl,
      directives: options.directives,
      input: options.input,
      callbacksSent: 0,
    };
    this.deps.tasks.set(task.record.taskId, task);
    this.deps.onCredits(-options.input.credits);
    this.deps.logger.info({ taskId: task.record.taskId, model: task.record.model }, "kie-sim task created");
    void this.run(task).catch((error) => {
      if (!this.deps.signal.aborted) {
        this.deps.logger.error({ taskId: task.record.taskId, err: String(error) }, "kie-sim task crashed");
      }
    });
    return task;
  }

  /** Stops timers and pending callbacks; used by close(). */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.held.clear();
  }

  private wait(ms: number): Promise<void> {
    return sleep(ms, this.deps.signal);
  }

  private waitUntil(deadline: number): Promise<void> {
    return sleep(deadline - Date.now(), this.deps.signal);
  }

  private setState(task: SimTask, state: KieTaskState): void {
    task.record.state = state;
    task.record.updateTime = Date.now();
  }

  private async run(task: SimTask): Promise<void> {
    const total = task.directives.delayMs ?? this.deps.stepMs * 3;
    const step = total / 3;
    const started = task.record.createTime;
    await this.waitUntil(started + step);
    this.setState(task, "queuing");
    await this.waitUntil(started + 2 * step);
    this.setState(task, "generating");
    if (task.directives.never) return;

    const outcome = await this.produce(task);
    await this.waitUntil(started + total);

    if (task.directives.callback.kind === "early") {
      // The callback goes out while recordInfo still says "generating": a receiver that re-reads
      // the task right away must treat it as pending and look again later.
      await this.sendCallback(task, outcome);
      await this.wait(Math.max(this.deps.stepMs, 50));
      this.finish(task, outcome);
      return;
    }
    this.finish(task, outcome);
    await this.dispatchCallback(task, outcome);
  }

  private async produce(task: SimTask): Promise<FinalOutcome> {
    if (task.directives.fail) {
      return {
        state: "fail",
        failCode: "500",
        failMsg: task.directives.fail.message ?? FAIL_DEFAULT_MESSAGE,
      };
    }
    try {
      const { input } = task;
      const prompt = task.directives.cleanPrompt;
      let bytes: Buffer;
      if (input.imageUrls.length === 0) {
        const size = outputSize(input.aspect, {
          resolutionFactor: input.resolutionFactor,
          scale: this.deps.imageScale,
        });
        bytes = await renderTextToImage({ prompt, ...size, format: input.format });
      } else {
        const inputs = await this.fetchInputs(task);
        const size = outputSize(input.aspect, {
          resolutionFactor: input.resolutionFactor,
          scale: this.deps.imageScale,
          autoRatio: inputs[0]!.width / inputs[0]!.height,
        });
        bytes = await renderEdit({
          prompt,
          inputs: inputs.map((i) => i.bytes),
          ...size,
          format: input.format,
        });
      }
      const odd = task.directives.result;
      if (odd?.kind === "not-image") bytes = Buffer.from("<!doctype html><title>Not an image</title>\n");
      // Padding after the image's end: still sniffed as the format, but as large as asked.
      if (odd?.kind === "oversize" && odd.bytes > bytes.length) {
        bytes = Buffer.concat([bytes, Buffer.alloc(odd.bytes - bytes.length)]);
      }
      const name = `results/${task.record.taskId}.${EXTENSION_BY_FORMAT[input.format]}`;
      const mimeType = odd?.kind === "not-image" ? "text/html" : MIME_BY_FORMAT[input.format];
      this.deps.blobs.set(name, { bytes, mimeType, createdAt: Date.now() });
      return { state: "success", resultUrl: `${this.deps.publicBase()}/${name}` };
    } catch (error) {
      if (error instanceof ImageInputError) return { state: "fail", failCode: "422", failMsg: error.message };
      if (this.deps.signal.aborted) throw error;
      this.deps.logger.error(
        { taskId: task.record.taskId, err: String(error) },
        "kie-sim could not draw the image",
      );
      return { state: "fail", failCode: "500", failMsg: "Internal error while generating the image" };
    }
  }

  private async fetchInputs(task: SimTask): Promise<{ bytes: Buffer; width: number; height: number }[]> {
    const field = task.record.model.startsWith("google/") ? "image_urls" : "image_input";
    return Promise.all(
      task.input.imageUrls.map(async (url, index) => {
        const label = `input.${field}[${index}]`;
        let bytes: Buffer;
        const own = this.deps.resolveOwnUrl(url);
        if (own) {
          if (!own.blob) throw new ImageInputError(`${label} could not be fetched: HTTP 404 (${url})`);
          bytes = own.blob.bytes;
        } else {
          try {
            ({ bytes } = await guardedFetchBytes(url, {
              timeoutMs: this.deps.fetchTimeoutMs,
              maxBytes: task.input.maxImageBytes,
              signal: this.deps.signal,
              agent: this.deps.fetchAgent,
              trustedOrigins: this.deps.trustedFetchOrigins,
            }));
          } catch (error) {
            if (error instanceof FetchError) {
              if (error.detail)
                this.deps.logger.info({ url, detail: error.detail }, "image input fetch failed");
              // Like KIE: the task fails; the message names no address or network error.
              throw new ImageInputError(`${label} could not be fetched: ${error.message}`);
            }
            throw error;
          }
        }
        if (bytes.length > task.input.maxImageBytes) {
          throw new ImageInputError(`${label} is larger than ${task.input.maxImageBytes} bytes`);
        }
        const size = await inspectInputImage(bytes, label);
        return { bytes, ...size };
      }),
    );
  }

  private finish(task: SimTask, outcome: FinalOutcome): void {
    const now = Date.now();
    const r = task.record;
    r.state = outcome.state;
    r.updateTime = now;
    r.completeTime = now;
    r.costTime = now - r.createTime;
    if (outcome.state === "success") {
      task.resultUrl = outcome.resultUrl;
      r.resultJson = JSON.stringify({ resultUrls: [outcome.resultUrl] });
      r.creditsConsumed = task.input.credits;
    } else {
      r.failCode = outcome.failCode ?? "500";
      r.failMsg = outcome.failMsg ?? FAIL_DEFAULT_MESSAGE;
      this.deps.onCredits(task.input.credits);
    }
    this.deps.onFinished(outcome.state);
    this.deps.logger.info(
      { taskId: r.taskId, state: r.state, failMsg: r.failMsg || undefined, costTime: r.costTime },
      "kie-sim task finished",
    );
  }

  private async dispatchCallback(task: SimTask, outcome: FinalOutcome): Promise<void> {
    if (!task.callBackUrl) return;
    const mode = task.directives.callback;
    switch (mode.kind) {
      case "none":
        return;
      case "late":
        await this.wait(mode.ms);
        await this.sendCallback(task, outcome);
        return;
      case "duplicate":
        await this.sendCallback(task, outcome);
        await this.sendCallback(task, outcome);
        return;
      case "reorder":
        return this.holdCallback(task, outcome);
      default:
        await this.sendCallback(task, outcome);
    }
  }

  /** Sends after the next other task's callback, or after a while if no other task finishes. */
  private holdCallback(task: SimTask, outcome: FinalOutcome): Promise<void> {
    return new Promise((resolve) => {
      const release = () => {
        if (!this.held.delete(task.record.taskId)) return;
        clearTimeout(timer);
        this.timers.delete(timer);
        void this.sendCallback(task, outcome).finally(resolve);
      };
      const timer = setTimeout(release, Math.max(1000, this.deps.stepMs * 10));
      this.timers.add(timer);
      this.held.set(task.record.taskId, release);
    });
  }

  private callbackBody(task: SimTask, outcome: FinalOutcome): string {
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

  private async sendCallback(task: SimTask, outcome: FinalOutcome): Promise<void> {
    const url = task.callBackUrl;
    if (!url || this.deps.signal.aborted) return;
    const taskId = task.record.taskId;
    const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "kie-sim" };
    if (this.deps.webhookHmacKey) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      headers["x-webhook-timestamp"] = timestamp;
      headers["x-webhook-signature"] = createHmac("sha256", this.deps.webhookHmacKey)
        .update(`${taskId}.${timestamp}`)
        .digest("base64");
    }
    task.callbacksSent += 1;
    let ok = false;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers,
        body: this.callbackBody(task, outcome),
        signal: AbortSignal.any([AbortSignal.timeout(this.deps.callbackTimeoutMs), this.deps.signal]),
      });
      await response.body?.cancel().catch(() => {});
      ok = response.ok;
      if (!ok)
        this.deps.logger.warn({ taskId, status: response.status }, "kie-sim callback answered with an error");
    } catch (error) {
      if (!this.deps.signal.aborted) {
        this.deps.logger.warn({ taskId, err: describe(error) }, "kie-sim callback could not be delivered");
      }
    }
    this.deps.onCallback(ok);
    // A reordered callback waits for the next one that is not itself held back.
    if (this.held.size > 0 && !this.held.has(taskId)) {
      for (const release of [...this.held.values()]) release();
    }
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}
