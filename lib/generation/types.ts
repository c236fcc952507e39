/**
 * The use case's public input and result types (lib/http and the routes build and read them);
 * kept apart from create.ts so that wait.ts's resume() can answer in the same shape.
 */
import type { ImageGenerationRequest } from "@/lib/catalog";
import type { GenerationPageCursor } from "@/lib/db/generations";
import type { JobView } from "./view";

export interface LocalImageFile {
  data: Blob;
  mimeType: string;
  fileName?: string;
}

export interface CreateGenerationInput {
  userId: string;
  email?: string;
  /** Validated; `images` holds only https URLs (data URIs and uploads arrive as `files`). */
  request: ImageGenerationRequest;
  files: LocalImageFile[];
  /** `sourceTaskId`: the job whose result is the first of `files` (source.ts). */
  parent?: { id: string; taskId: string };
  /**
   * Keeps `files` readable until the returned function is called (uploads spooled to disk): each
   * reader that may outlive the request (an upload, the background input copy) holds one.
   */
  retainFiles?: () => () => Promise<void>;
  /** `n`: how many jobs (variations) to make from the request, each charged on its own; default 1. */
  count?: number;
  mode: "sync" | "async";
  requestId: string;
  /** Aborts a sync wait (the client went away); the job itself carries on. */
  signal?: AbortSignal;
  idempotencyKey?: string;
  /**
   * The Idempotency-Key claim this request holds: the job is recorded on it in the reserve
   * transaction, so a retry after this request dies answers from the job (never a second one).
   */
  idempotencyClaim?: { key: string; claimToken: string };
  /**
   * Runs once the credits are reserved and before anything is sent to KIE; throwing refuses the
   * request and returns the credits (the per-user rate limit counts only admitted generations,
   * each job of a batch: `count`).
   */
  admit?: (count: number) => Promise<void>;
}

export type CreateGenerationResult =
  /** Sync mode: the job ended (succeeded or failed) within the budget. */
  | { outcome: "settled"; job: JobView; remainingCredits: number; warnings: string[] }
  /** Async mode. */
  | { outcome: "accepted"; job: JobView; remainingCredits: number; pollAfterMs: number; warnings: string[] }
  /** Sync mode: the budget ran out; the job keeps settling in the background. */
  | { outcome: "budget_exhausted"; job: JobView; remainingCredits: number; warnings: string[] };

/**
 * `n` > 1: every job of the batch, in the order asked — as they stand (async), or once all
 * settled or the sync budget ran out. `pollAfterMs` while any is open.
 */
export interface BatchGenerationResult {
  outcome: "batch";
  batchId: string;
  jobs: JobView[];
  remainingCredits: number;
  pollAfterMs?: number;
  warnings: string[];
}

/** What a create (or a retried one) answers: one job, or a batch of them. */
export type AnyCreateResult = CreateGenerationResult | BatchGenerationResult;

export interface StatusReadOptions {
  /** `Prefer: wait`: hold the answer until the job settles or this many ms pass. */
  waitMs?: number;
  /** The client went away: stop waiting. */
  signal?: AbortSignal;
}

export interface StatusReadResult {
  job: JobView;
  remainingCredits: number;
  pollAfterMs?: number;
}

export interface ListOptions {
  limit: number;
  cursor?: GenerationPageCursor;
}

export interface ReconcileOptions {
  limit?: number;
  /** Only this user's jobs (status and history reads sweep a few of the user's own). */
  userId?: string;
  /** Deadline of each KIE read; default the settings' reconcileReadTimeoutMs. */
  readTimeoutMs?: number;
  /** Stops the sweep: reads in flight are aborted, claimed jobs wait for the next sweep. */
  signal?: AbortSignal;
}
