/**
 * Everything one running simulator holds: its settings, stats, fault rules, account credits, task
 * and file stores, the task engine, and the addresses it answers under. Route handlers and the
 * control API read and change it; nothing here speaks HTTP.
 */

import { normalizeFaultRules } from "./faultSyntax";
import { type FaultRule, KIE_SIM_ENDPOINTS, type KieSimEndpoint, type KieSimFaultRuleInput } from "./faults";
import { createGuardedAgent } from "./fetchGuard";
import { nonNegative, type SimSettings } from "./options";
import { EndpointLimit } from "./rateLimit";
import { Sources } from "./sources";
import { BoundedMap, type StoredBlob } from "./store";
import type { KieSimLogger, SimTask } from "./taskRecord";
import { TaskEngine } from "./tasks";
import type { KieSimFaultRuleSnapshot, KieSimLimits, KieSimStats, KieSimTaskSnapshot } from "./types";

function emptyStats(): KieSimStats {
  return {
    calls: Object.fromEntries(KIE_SIM_ENDPOINTS.map((e) => [e, 0])) as Record<KieSimEndpoint, number>,
    uploads: 0,
    tasksCreated: 0,
    tasksSucceeded: 0,
    tasksFailed: 0,
    callbacksSent: 0,
    callbacksFailed: 0,
    faultsInjected: 0,
    authFailures: 0,
    rateLimited: 0,
  };
}

function snapshot(task: SimTask): KieSimTaskSnapshot {
  return Object.freeze({
    ...task.record,
    prompt: task.input.prompt,
    callBackUrl: task.callBackUrl,
    resultUrl: task.resultUrl,
    recordVisibleAt: task.visibleAt,
    callbacksSent: task.callbacksSent,
  });
}

export class SimState {
  stats = emptyStats();
  /** Prompts whose `[sim:fail-once]` task has failed already (per account and prompt). */
  readonly failedOnce = new Set<string>();
  rules: FaultRule[];
  credits: number;
  /** The base of the file and result URLs handed out (publicUrl, or its own address). */
  base = "";
  readonly tasks: BoundedMap<string, SimTask>;
  readonly blobs: BoundedMap<string, StoredBlob>;
  readonly sources: Sources;
  readonly engine: TaskEngine;
  /** KIE's per-account limits on createTask and recordInfo (counting only, unless set). */
  readonly limits: { createTask: EndpointLimit; recordInfo: EndpointLimit };
  private readonly abort = new AbortController();
  /** Every outbound fetch's connections: resolved and checked here (fetchGuard.ts). */
  private readonly fetchAgent = createGuardedAgent();
  private localBases: string[] = [];
  private ownBase = "";

  constructor(readonly settings: SimSettings) {
    this.rules = settings.faultRules;
    this.credits = settings.accountCredits;
    this.limits = {
      createTask: new EndpointLimit(settings.limits.createTask),
      recordInfo: new EndpointLimit(settings.limits.recordInfo),
    };
    this.tasks = new BoundedMap({ maxEntries: settings.maxTasks });
    this.blobs = new BoundedMap({
      maxEntries: 100_000,
      maxBytes: settings.maxStoredBytes,
      sizeOf: (blob) => blob.bytes.length,
    });
    this.sources = new Sources({
      ...settings,
      blobs: this.blobs,
      localBases: () => this.localBases,
      fetchAgent: this.fetchAgent,
      signal: this.signal,
    });
    this.engine = new TaskEngine({
      ...settings,
      tasks: this.tasks,
      blobs: this.blobs,
      sources: this.sources,
      signal: this.signal,
      publicBase: () => (this.settings.ownResultUrls ? this.ownBase : this.base),
      onCredits: (delta) => {
        this.credits = Math.max(0, this.credits + delta);
      },
      onCallback: (ok) => {
        this.stats.callbacksSent += 1;
        if (!ok) this.stats.callbacksFailed += 1;
      },
      onFinished: (state) => {
        if (state === "success") this.stats.tasksSucceeded += 1;
        else this.stats.tasksFailed += 1;
      },
    });
  }

  get logger(): KieSimLogger {
    return this.settings.logger;
  }

  /** Aborted by close(): timers, throttled I/O and fetches stop. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Once listening: `own` is where it listens; the public base defaults to it. */
  setAddress(own: string, port: number): void {
    this.ownBase = own.replace(/\/+$/, "");
    this.base = (this.settings.publicUrl ?? own).replace(/\/+$/, "");
    this.localBases = [...new Set([this.base, own, `http://127.0.0.1:${port}`, `http://localhost:${port}`])];
  }

  /** Stops tasks, callbacks, throttled I/O and fetches in flight (the first step of close()). */
  stop(): void {
    this.abort.abort();
    this.engine.stop();
  }

  /** Closes the outbound connection pool (the last step of close()). */
  async closeConnections(): Promise<void> {
    await this.fetchAgent.close().catch(() => {});
  }

  getStats(): KieSimStats {
    return structuredClone(this.stats);
  }

  resetStats(): void {
    this.stats = emptyStats();
    this.limits.createTask.reset();
    this.limits.recordInfo.reset();
  }

  limitSnapshot(): KieSimLimits {
    return { createTask: this.limits.createTask.snapshot(), recordInfo: this.limits.recordInfo.snapshot() };
  }

  setFaults(rules: string | readonly (string | KieSimFaultRuleInput)[], source = "faults"): void {
    this.rules = normalizeFaultRules(rules, source);
    this.logger.info({ rules: this.rules.map((r) => r.text) }, "kie-sim fault rules set");
  }

  faultSnapshot(): KieSimFaultRuleSnapshot[] {
    return this.rules.map((r) => ({
      rule: r.text,
      endpoint: r.endpoint,
      remaining: r.remaining ?? null,
      probability: r.probability,
    }));
  }

  allTasks(): KieSimTaskSnapshot[] {
    return [...this.tasks.values()].map(snapshot);
  }

  findTask(taskId: string): KieSimTaskSnapshot | undefined {
    const task = this.tasks.get(taskId);
    return task ? snapshot(task) : undefined;
  }

  setCredits(credits: number): void {
    this.credits = nonNegative("credits", credits ?? 0);
  }
}
