/**
 * The generation use case's front (DESIGN.md §4, §5): what the route handlers and lib/app.ts
 * call. Each method is one module's plain function over the shared context (context.ts):
 * create.ts, read.ts, wait.ts (resume), callbacks.ts, reconcile.ts; refresh.ts and apply.ts bring
 * jobs up to date, and settle.ts is the one place a job ends. No HTTP here: the route handlers
 * translate requests in and results out.
 */
import type { GenerationPageCursor } from "@/lib/db/generations";
import type { Generation } from "@/lib/db/schema";
import { resumeJobOrBatch } from "./batch";
import { type CallbackInput, type CallbackVerdict, verifyCallback } from "./callbacks";
import { createContext, type GenerationContext, type GenerationServiceDeps, pollAfterMs } from "./context";
import { create } from "./create";
import { drainPass } from "./drain";
import { JobDeletedError, JobUnansweredError } from "./errors";
import { lineStatus } from "./line";
import { getForUser, getManyForUser, lineage, list } from "./read";
import { reconcile } from "./reconcile";
import type {
  AnyCreateResult,
  CreateGenerationInput,
  CreateGenerationResult,
  ListOptions,
  ReconcileOptions,
  StatusReadOptions,
  StatusReadResult,
} from "./types";
import type { JobView } from "./view";

export type { CallbackInput, CallbackVerdict } from "./callbacks";
export type { GenerationObserver, GenerationServiceDeps, GenerationSettings } from "./context";
export type { ImageProvider, ProviderTask, ProviderTaskState } from "./provider";
export type {
  AnyCreateResult,
  BatchGenerationResult,
  CreateGenerationInput,
  CreateGenerationResult,
  LocalImageFile,
  ReconcileOptions,
  StatusReadOptions,
} from "./types";

export class GenerationService {
  private readonly ctx: GenerationContext;

  constructor(deps: GenerationServiceDeps) {
    this.ctx = createContext(deps);
    const ctx = this.ctx;
    ctx.line.start((signal) => drainPass(ctx, signal), ctx.logger.child({ component: "line" }));
  }

  /** Wakes this instance's drain of the line (start-up, the reconciler's sweep). */
  wakeLine(): void {
    this.ctx.line.wake();
  }

  /** The line's length and its oldest job's wait (health, metrics). */
  lineStatus(): Promise<{ length: number; oldestWaitMs: number }> {
    return lineStatus(this.ctx);
  }

  /**
   * Start-up: the poll durations every instance has learned so far (learnedDurations.ts), so this
   * one polls a model's jobs well from its first job. A failure is logged, never thrown.
   */
  loadDurations(): Promise<void> {
    return this.ctx.durations.load();
  }

  /**
   * Stops the drain (shutdown): no new createTask starts; those in flight get a bounded wait. What
   * the poll schedule learned and has not shared yet is written.
   */
  async close(): Promise<void> {
    await Promise.all([this.ctx.line.stop(), this.ctx.durations.close()]);
  }

  /** Requests (sync generates, status reads with `Prefer: wait`) waiting for a job right now. */
  get waitingRequests(): number {
    return this.ctx.watches.waiters;
  }

  /** One job (no `count`, or 1), or a batch of `count` (`n` variations). */
  create(input: CreateGenerationInput & { count?: 1 }): Promise<CreateGenerationResult>;
  create(input: CreateGenerationInput): Promise<AnyCreateResult>;
  create(input: CreateGenerationInput): Promise<AnyCreateResult> {
    return create(this.ctx, input);
  }

  /** The answer for a retried request (same Idempotency-Key) from the job it created (wait.ts). */
  resume(
    userId: string,
    jobId: string,
    options: { mode: "sync" | "async"; signal?: AbortSignal },
  ): Promise<AnyCreateResult | undefined> {
    // The job exists: a failed read still names it, and the key's claim keeps it for the next retry.
    return resumeJobOrBatch(this.ctx, userId, jobId, options).catch((error) => {
      throw error instanceof JobDeletedError ? error : new JobUnansweredError(jobId, { cause: error });
    });
  }

  /** The user's job (by our id or KIE's task id), refreshed from KIE at most once per interval. */
  getForUser(
    userId: string,
    taskId: string,
    options?: StatusReadOptions,
  ): Promise<StatusReadResult | undefined> {
    return getForUser(this.ctx, userId, taskId, options);
  }

  /** Several of the user's jobs, optionally held until one of them settles (one watch for all). */
  getManyForUser(userId: string, taskIds: readonly string[], options?: StatusReadOptions) {
    return getManyForUser(this.ctx, userId, taskIds, options);
  }

  /** The user's job with its parent and children in their edit tree (`sourceTaskId`). */
  lineage(userId: string, taskId: string) {
    return lineage(this.ctx, userId, taskId);
  }

  list(userId: string, options: ListOptions): Promise<{ jobs: JobView[]; next?: GenerationPageCursor }> {
    return list(this.ctx, userId, options);
  }

  /** The poll hint, and the refresh lease: grows with the job's age. */
  pollAfterMs(job: Generation): number {
    return pollAfterMs(this.ctx, job);
  }

  /**
   * Checks a callback and returns the work to do (callbacks.ts). The body is never trusted: the
   * work re-reads the task from KIE.
   */
  verifyCallback(input: CallbackInput): Promise<CallbackVerdict> {
    return verifyCallback(this.ctx, input);
  }

  /** One reconciler sweep (reconcile.ts). */
  reconcile(options?: ReconcileOptions): Promise<{ examined: number; settled: number }> {
    // A line whose instance died is drained by the others: every sweep wakes this one's drain.
    this.ctx.line.wake();
    // Side by side: what the other instances learned never holds up the sweep (and fails alone).
    const durations = this.ctx.durations.refreshIfDue();
    return reconcile(this.ctx, options).finally(() => durations);
  }
}
