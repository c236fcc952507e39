/**
 * The `Idempotency-Key` header (DESIGN.md §3): the same key with the same request within 24 h
 * replays the first response; with another request it is 422 `idempotency_key_reused`; while the
 * first request still runs it is 409 `idempotency_key_in_progress`. Keys are scoped to the user and
 * kept in the database (lib/db/idempotency.ts), so every instance agrees.
 *
 * What is replayed: a response is stored when something happened that a retry must not repeat —
 * any 2xx, or any answer that names a task (a job exists: 422 generation_failed, 504
 * upstream_timeout). Every other answer (429, 402, 5xx without a task, a rejected upload) means
 * nothing happened, so the claim is abandoned and the client may retry with the same key.
 * Our own 500 is not stored either, even when it names its job (a database call failed after the
 * job was made): the claim keeps that job (lib/db/idempotency.ts never deletes a claim holding a
 * job), so the retry takes it over and answers with the job as it is, never a second job.
 */
import { createHash } from "node:crypto";
import type { DbExecutor } from "@/lib/db";
import {
  abandonIdempotencyKey,
  completeIdempotencyKey,
  IDEMPOTENCY_KEY_MAX_LENGTH,
  IDEMPOTENCY_LEASE_MS,
  tryClaimIdempotencyKey,
} from "@/lib/db/idempotency";
import type { Logger } from "@/lib/observability/logger";
import { ApiError } from "./errors";
import { errorResponse, json } from "./route";

export {
  abandonIdempotencyKey,
  completeIdempotencyKey,
  IDEMPOTENCY_LEASE_MS,
  IDEMPOTENCY_TTL_MS,
  purgeExpiredIdempotencyKeys,
} from "@/lib/db/idempotency";

export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";
/** Set on a response that is a stored copy of an earlier one. */
export const IDEMPOTENT_REPLAYED_HEADER = "Idempotent-Replayed";

const PRINTABLE_ASCII = /^[\x20-\x7E]+$/;

/**
 * The request's Idempotency-Key, or undefined when it has none. A key that is empty, longer than
 * 255 characters or not printable ASCII is a 400: silently ignoring it would drop the protection
 * the client asked for.
 */
export function idempotencyKeyFrom(request: Request): string | undefined {
  const key = request.headers.get(IDEMPOTENCY_KEY_HEADER);
  if (key === null) return undefined;
  // (PRINTABLE_ASCII needs at least one character: an empty key fails it.)
  if (key.length > IDEMPOTENCY_KEY_MAX_LENGTH || !PRINTABLE_ASCII.test(key)) {
    throw new ApiError(
      "invalid_request",
      `The ${IDEMPOTENCY_KEY_HEADER} header must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters.`,
    );
  }
  return key;
}

/** Hex sha256, e.g. of an uploaded file's bytes for requestFingerprint. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * sha256 of a canonical JSON of `parts` (object keys sorted at every depth), so two requests with
 * the same content have the same fingerprint whatever their key order. Pass the parsed, validated
 * request; for uploaded files pass their content hashes (sha256Hex), not the bytes.
 */
export function requestFingerprint(parts: unknown): string {
  const canonical = JSON.stringify(parts, (_key, value: unknown) => {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
    const sorted: Record<string, unknown> = {};
    for (const name of Object.keys(value).sort()) sorted[name] = (value as Record<string, unknown>)[name];
    return sorted;
  });
  if (canonical === undefined) throw new TypeError("requestFingerprint needs JSON-serializable parts");
  return sha256Hex(canonical);
}

export interface ClaimInput {
  userId: string;
  key: string;
  fingerprint: string;
  leaseMs?: number;
  now?: Date;
}

export type ClaimResult =
  | { outcome: "claimed"; claimToken: string; generationId: string | null }
  | { outcome: "replay"; status: number; body: unknown; generationId: string | null };

/** Claims the key, or says what to replay; 409 while it is in progress, 422 for another request. */
export async function claimIdempotencyKey(db: DbExecutor, input: ClaimInput): Promise<ClaimResult> {
  const claim = await tryClaimIdempotencyKey(db, input);
  switch (claim.outcome) {
    case "claimed":
    case "replay":
      return claim;
    case "in_progress":
      throw new ApiError("idempotency_key_in_progress");
    case "fingerprint_mismatch":
      throw new ApiError("idempotency_key_reused");
  }
}

/** The stored response again, marked as a replay. A replayed 202 gets its Location back. */
export function replayResponse(replay: { status: number; body: unknown }): Response {
  const headers: Record<string, string> = { [IDEMPOTENT_REPLAYED_HEADER]: "true" };
  const statusUrl = (replay.body as { statusUrl?: unknown } | null)?.statusUrl;
  if (replay.status === 202 && typeof statusUrl === "string") headers.Location = statusUrl;
  return json(replay.body, replay.status, headers);
}

/** Whether a response must be replayed to a retry (see the top of this file). */
export function isReplayable(status: number, body: unknown): boolean {
  if (status >= 200 && status < 300) return true;
  if (status === 500) return false;
  const named = body as { taskId?: unknown; error?: { taskId?: unknown } } | null;
  return typeof named?.taskId === "string" || typeof named?.error?.taskId === "string";
}

/**
 * The key's lease for a generate request, from the limits that bound it: uploads and createTask
 * (each up to 1 + KIE_MAX_RETRIES tries of KIE_REQUEST_TIMEOUT_MS plus backoff), then the sync
 * wait (KIE_POLL_BUDGET_MS), with a minute to spare — and never below IDEMPOTENCY_LEASE_MS. A
 * shorter lease would let a same-key retry take the key from a request still running.
 */
export function idempotencyLeaseMs(limits: {
  requestTimeoutMs: number;
  pollBudgetMs: number;
  maxRetries?: number;
}): number {
  const tries = 1 + (limits.maxRetries ?? 2);
  const oneKieStep = tries * limits.requestTimeoutMs + tries * 10_000; // + backoff / Retry-After
  return Math.max(IDEMPOTENCY_LEASE_MS, 2 * oneKieStep + limits.pollBudgetMs + 60_000);
}

/** The claim a request holds while it runs (withIdempotency hands it to `run`). */
export interface HeldClaim {
  key: string;
  claimToken: string;
  /** The job an earlier holder of this request created before it stopped: answer from it. */
  generationId: string | null;
}

export interface IdempotentRequest {
  db: DbExecutor;
  userId: string;
  /** From idempotencyKeyFrom(); undefined runs the request without idempotency. */
  key: string | undefined;
  /** requestFingerprint() of the parsed request. */
  fingerprint: string;
  requestId: string;
  log?: Logger;
  leaseMs?: number;
  ttlMs?: number;
}

/**
 * Runs `run` at most once per (user, key, request): claims the key, replays a stored response, or
 * runs and then stores its response or abandons the claim (see isReplayable). An error thrown by
 * `run` becomes its error response here, so that response can be stored like any other.
 */
export async function withIdempotency(
  request: IdempotentRequest,
  run: (claim?: HeldClaim) => Promise<Response>,
): Promise<Response> {
  if (request.key === undefined) return run();
  const { db, userId, key, log } = request;
  const claim = await claimIdempotencyKey(db, {
    userId,
    key,
    fingerprint: request.fingerprint,
    leaseMs: request.leaseMs,
  });
  if (claim.outcome === "replay") {
    log?.info({ replayedStatus: claim.status }, "idempotent replay");
    return replayResponse(claim);
  }

  if (claim.generationId)
    log?.warn({ jobId: claim.generationId }, "idempotency key taken over; answering from its job");
  let response: Response;
  try {
    response = await run({ key, claimToken: claim.claimToken, generationId: claim.generationId });
  } catch (error) {
    response = errorResponse(error, request.requestId, log);
  }

  const body = await jsonBodyOf(response);
  const claimToken = claim.claimToken;
  try {
    if (isReplayable(response.status, body.value)) {
      if (!body.ok) log?.warn({ status: response.status }, "a stored idempotent response has no JSON body");
      const stored = await completeIdempotencyKey(db, {
        userId,
        key,
        claimToken,
        status: response.status,
        body: body.value,
        ttlMs: request.ttlMs,
      });
      // Stryker disable next-line OptionalChaining: without a log, log.warn's TypeError lands in the catch below, which logs nothing either: the outcome is the same
      if (!stored) log?.warn("the idempotency lease ended before the response was stored");
    } else {
      await abandonIdempotencyKey(db, { userId, key, claimToken });
    }
  } catch (error) {
    // The work is done (or definitely not done): answering it beats a 500 the client would retry.
    // Until the lease ends, a retry with this key gets 409.
    log?.error({ err: error }, "could not record the idempotency key's outcome");
  }
  return response;
}

async function jsonBodyOf(response: Response): Promise<{ ok: boolean; value: unknown }> {
  try {
    return { ok: true, value: await response.clone().json() };
  } catch {
    return { ok: false, value: null };
  }
}
