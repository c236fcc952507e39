/**
 * The task lifecycle: waiting → queuing → generating → success | fail on timers, with the prompt
 * directives that bend it ([sim:never], [sim:delay], [sim:callback=early]). What a task produces is
 * results.ts's; the callback it sends is callbacks.ts's.
 */
import { randomBytes } from "node:crypto";
import { CallbackSender } from "./callbacks";
import type { PromptDirectives } from "./directives";
import type { NormalizedTaskInput, SimModelSpec } from "./models";
import { sleep } from "./net";
import { ResultMaker } from "./results";
import type { Sources } from "./sources";
import type { BoundedMap, StoredBlob } from "./store";
import {
  FAIL_DEFAULT_MESSAGE,
  type FinalOutcome,
  type KieSimLogger,
  type KieTaskState,
  type SimTask,
} from "./taskRecord";

export type { KieRecordData, KieSimLogger, KieTaskState, SimTask } from "./taskRecord";

export interface TaskEngineDeps {
  tasks: BoundedMap<string, SimTask>;
  blobs: BoundedMap<string, StoredBlob>;
  sources: Sources;
  stepMs: number;
  recordDelayMs: number;
  imageScale: number;
  callbackTimeoutMs: number;
  webhookHmacKey?: string;
  logger: KieSimLogger;
  /** Aborted when the simulator closes. */
  signal: AbortSignal;
  publicBase(): string;
  onCredits(delta: number): void;
  onCallback(ok: boolean): void;
  onFinished(state: "success" | "fail"): void;
}

/** What createTask hands the engine: the validated request. */
export interface NewTask {
  model: SimModelSpec;
  body: unknown;
  callBackUrl?: string;
  input: NormalizedTaskInput;
  directives: PromptDirectives;
}

export class TaskEngine {
  private readonly results: ResultMaker;
  private readonly callbacks: CallbackSender;

  constructor(private readonly deps: TaskEngineDeps) {
    this.results = new ResultMaker(deps);
    this.callbacks = new CallbackSender(deps);
  }

  create(options: NewTask): SimTask {
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
    this.callbacks.stop();
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

    const outcome = await this.results.produce(task);
    await this.waitUntil(started + total);

    if (task.directives.callback.kind === "early") {
      // The callback goes out while recordInfo still says "generating": a receiver that re-reads
      // the task right away must treat it as pending and look again later.
      await this.callbacks.send({ task, outcome });
      await this.wait(Math.max(this.deps.stepMs, 50));
      this.finish(task, outcome);
      return;
    }
    this.finish(task, outcome);
    await this.callbacks.dispatch({ task, outcome });
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
}
