/**
 * The image provider port: everything lib/generation needs from an image service, in our words.
 * In the spirit of vercel/ai's image-model spec (a small typed interface an adapter satisfies):
 * lib/kie/provider.ts adapts KIE's client to it, lib/app.ts wires it in, and a second provider
 * would be a sibling of lib/kie. lib/generation imports nothing from any provider.
 *
 * The provider owns its wire format, retries and error classes; the use case only asks the
 * questions below about them (isAmbiguousCreateFailure, isProviderFailing, describeError).
 */
import type { ImageGenerationRequest, ModelChoice } from "@/lib/catalog";

/**
 * A task's state in neutral words (each provider maps its own):
 * - `unrecorded`: the provider has no record of the task yet (it may appear shortly);
 * - `waiting`: accepted but not started, or a state we do not know (treated as still going);
 * - `running`: queued or generating at the provider (the job becomes `processing`);
 * - `succeeded` / `failed`: the task ended.
 */
export type ProviderTaskState = "unrecorded" | "waiting" | "running" | "succeeded" | "failed";

/** What the provider says about one task. */
export interface ProviderTask {
  taskId: string;
  state: ProviderTaskState;
  /** The state in the provider's own words (for logs only). */
  providerState?: string;
  /** Result image URLs, hosted by the provider (they expire: copy them soon). Empty until success. */
  resultUrls: string[];
  /** The provider's failure code and (sanitized) message, when the task failed. */
  failCode?: string;
  failMessage?: string;
  /** The callBackUrl the task was created with, as the provider recorded it (names our job). */
  callBackUrl?: string;
  /**
   * How long the task ran by the provider's own clock (created → completed), once it ended;
   * undefined when the provider does not say or says nonsense. The poll schedule learns from it.
   */
  durationMs?: number;
  /**
   * What the provider says the task cost, in its own units (KIE credits); undefined until it says.
   * Kept on the job beside our price so the operator can compare (README "Prices").
   */
  providerCredits?: number;
}

/** Per call: our request id (sent along and logged) and an abort. */
export interface ProviderCallOptions {
  requestId: string;
  /** Aborting stops the call at once and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface ProviderTaskInput {
  /** The validated request; its `images` are https URLs only. */
  request: ImageGenerationRequest;
  /** The catalogue model it runs on, and the resolution that was priced (lib/catalog). */
  model: ModelChoice;
  /** Public URLs of every input image: the request's own, then the uploaded files'. */
  imageUrls: string[];
  /** Where the provider posts the task's end; without it the task is only polled. */
  callBackUrl?: string;
}

export interface ProviderFile {
  data: Blob;
  mimeType: string;
  fileName?: string;
}

export interface ImageProvider {
  /**
   * Creates a generation task (a paid one, once the provider accepts it). Never retried blindly:
   * see isAmbiguousCreateFailure. `warnings` are things the user should know (e.g. an option the
   * provider ignores).
   */
  createTask(
    input: ProviderTaskInput,
    options: ProviderCallOptions,
  ): Promise<{ taskId: string; warnings: string[] }>;
  /** Reads a task. A task the provider has not recorded yet comes back `unrecorded`, not as an error. */
  readTask(taskId: string, options: ProviderCallOptions): Promise<ProviderTask>;
  /** Uploads a local input image; the public URL the provider can then read it from. */
  uploadFile(file: ProviderFile, options: ProviderCallOptions): Promise<{ url: string }>;
  /** A callback body → the task it names; never trusted beyond that (the task is read again). */
  parseCallback(body: unknown): { ok: true; taskId: string } | { ok: false };
  /**
   * Whether a failed createTask may still have created the task (sent, then a timeout or a lost
   * connection): the job then waits for its callback instead of failing. Any answer from the
   * provider is a refusal (false).
   */
  isAmbiguousCreateFailure(error: unknown): boolean;
  /**
   * When a failed createTask was the provider refusing for its account's rate limit (rejected, not
   * queued: safe to submit again), how long creates should pause, in ms (its Retry-After, else its
   * default); undefined for any other failure. The client does not retry such a refusal itself:
   * the job goes back to the head of the line and the KieBudget pauses (budget.ts, issue 23).
   */
  isRateLimited(error: unknown): number | undefined;
  /**
   * Whether a failed call means the provider is failing right now (a timeout, a network error, a
   * 5xx: retry later) rather than refusing this one request (a 404, a 422). A reconciler sweep
   * stops reading the provider once it is failing.
   */
  isProviderFailing(error: unknown): boolean;
  /** A short, safe message for one of the provider's errors (stored on a failed job); else undefined. */
  describeError(error: unknown): string | undefined;
}
